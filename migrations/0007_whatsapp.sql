-- The WhatsApp channel (lib/whatsapp): webhook log, inbound messages, per-phone conversation
-- state, outbound messages and their delivery, downloaded media.

-- Every webhook request as received (seed 002 `WebhookLog`): secrets removed from the headers,
-- phone numbers masked in the body. Kept WHATSAPP_WEBHOOK_LOG_DAYS days (cron
-- whatsapp.webhook_log_cleanup).
create table whatsapp_webhook_log (
  id bigserial primary key,
  received_at timestamptz not null default now(),
  provider text not null,
  method text not null,
  path text not null,
  headers jsonb not null default '{}',
  body text,
  body_bytes integer not null default 0,
  status integer not null,
  processing_ms real not null default 0,
  messages integer not null default 0,
  error text
);
create index whatsapp_webhook_log_received on whatsapp_webhook_log (received_at);

-- One row per message a user sent, de-duplicated on the provider's message id (Meta retries
-- for days). Also holds events the conversation reacts to in order with the user's messages
-- (provider 'system', e.g. a payment that settled).
create table whatsapp_inbound (
  id uuid primary key default gen_random_uuid(),
  seq bigserial not null,                    -- arrival order: a phone's messages are answered in it
  provider text not null check (provider in ('meta', 'twilio', 'system')),
  provider_message_id text not null unique,
  phone text not null,                       -- E.164
  type text not null,
  message jsonb not null,                    -- the parsed message (lib/whatsapp/types.ts)
  received_at timestamptz not null default now(),
  status text not null default 'pending'
    check (status in ('pending', 'answered', 'skipped', 'failed')),
  attempts integer not null default 0,
  processed_at timestamptz,
  error text
);
create index whatsapp_inbound_pending on whatsapp_inbound (phone, seq) where status = 'pending';
create index whatsapp_inbound_received on whatsapp_inbound (received_at);

-- The conversation machine's state per phone (lib/whatsapp/bot).
create table whatsapp_sessions (
  phone text primary key,
  user_id uuid references users (id),
  state jsonb not null,
  last_inbound_at timestamptz,               -- opens the 24-hour window
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Messages to send, in order per phone (`id` order). A reply's chunks share its inbound id.
create table whatsapp_outbound (
  id bigserial primary key,
  phone text not null,
  inbound_id uuid references whatsapp_inbound (id) on delete set null,
  part integer not null default 0,
  kind text not null check (kind in ('reply', 'notice', 'code')),
  message jsonb not null,                    -- OutboundMessage
  template jsonb,                            -- sent instead outside the 24-hour window
  status text not null default 'queued'
    check (status in ('queued', 'sent', 'failed', 'dropped')),
  attempts integer not null default 0,
  not_before timestamptz,
  provider_message_id text,
  delivery_status text,                      -- from status webhooks: sent, delivered, read, failed
  error text,
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  unique (inbound_id, part)
);
create index whatsapp_outbound_queued on whatsapp_outbound (phone, id) where status = 'queued';
create index whatsapp_outbound_provider_id on whatsapp_outbound (provider_message_id);

-- Per-phone leases: one worker at a time processes a phone's messages (in order) and one sends
-- to it (in order), across processes.
create table whatsapp_leases (
  phone text not null,
  kind text not null check (kind in ('reply', 'send')),
  holder text not null,
  leased_until timestamptz not null,
  primary key (phone, kind)
);

-- Attachments users sent, stored under DATA_DIR/whatsapp-media (for the grievance feature).
create table whatsapp_media (
  id uuid primary key default gen_random_uuid(),
  inbound_id uuid not null unique references whatsapp_inbound (id) on delete cascade,
  phone text not null,
  mime_type text not null,
  size_bytes integer not null,
  path text not null,
  created_at timestamptz not null default now()
);
