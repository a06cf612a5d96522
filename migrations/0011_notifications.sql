-- Notifications (lib/notifications): channels (a method and its settings), topics that group
-- them, each publication to a topic and one delivery per channel, and the product events an
-- admin routes to a topic. The method, status and event lists are the ones in
-- lib/notifications/model.ts (a test compares them with these CHECKs).

-- A channel: where a message goes and how. `settings` never holds a secret: the secret is named
-- (`secret_env`, a NOTIFY_* variable) or stored encrypted with ENCRYPTION_KEY (`secret_sealed`,
-- bound to the row's id), and resolved at send time. `recipient` is the masked "to" shown in the
-- delivery log (computed from the settings when they are saved).
create table notification_channels (
  id uuid primary key default gen_random_uuid(),
  name text not null unique,
  method text not null check (method in ('email', 'slack', 'telegram', 'whatsapp', 'webhook')),
  settings jsonb not null,
  recipient text not null,
  secret_env text,
  secret_sealed text,
  check (secret_env is null or secret_sealed is null),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table notification_topics (
  id uuid primary key default gen_random_uuid(),
  name text not null unique,
  description text not null default '',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table notification_topic_channels (
  topic_id uuid not null references notification_topics (id) on delete cascade,
  channel_id uuid not null references notification_channels (id) on delete cascade,
  primary key (topic_id, channel_id)
);
create index notification_topic_channels_channel on notification_topic_channels (channel_id);

-- One message published to a topic. Kept when the topic is deleted (its name stays), so the
-- delivery log outlives its configuration. `dedupe_key` makes a publish idempotent per topic
-- (an API Idempotency-Key, a product event's id); `request_hash` tells a replay from a reuse of
-- the key for another message.
create table notification_publications (
  id uuid primary key default gen_random_uuid(),
  topic_id uuid references notification_topics (id) on delete set null,
  topic_name text not null,
  dedupe_key text,
  request_hash text,
  title text,
  body text not null,
  source text not null,
  created_at timestamptz not null default now(),
  search tsvector generated always as (
    to_tsvector('simple', coalesce(title, '') || ' ' || body)
  ) stored,
  unique (topic_id, dedupe_key)
);
create index notification_publications_search on notification_publications using gin (search);

-- One delivery per channel of a publication. `next_attempt_at` is when its job is due (queued:
-- at once; retrying: after the backoff; sending: when the sender's claim runs out), which is what
-- the reconciler looks at to find work whose job was lost.
create table notification_deliveries (
  id uuid primary key default gen_random_uuid(),
  publication_id uuid not null references notification_publications (id) on delete cascade,
  channel_id uuid references notification_channels (id) on delete set null,
  channel_name text not null,
  method text not null,
  recipient text not null,
  status text not null default 'queued'
    check (status in ('queued', 'sending', 'sent', 'retrying', 'failed')),
  attempts integer not null default 0,
  last_error text,
  provider_message_id text,
  next_attempt_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sent_at timestamptz
);
create index notification_deliveries_publication on notification_deliveries (publication_id);
create index notification_deliveries_created on notification_deliveries (created_at desc);
create index notification_deliveries_channel on notification_deliveries (channel_id, created_at desc);
create index notification_deliveries_due on notification_deliveries (next_attempt_at)
  where status in ('queued', 'sending', 'retrying');

-- Which topic each product event is published to (no row: the event is not published).
create table notification_event_routes (
  event text primary key check (event in (
    'payment.paid', 'payment.failed', 'payment.expired', 'job.dead_lettered',
    'ai.upstream_down', 'ai.upstream_recovered', 'webhook.signature_spike', 'account.signed_up'
  )),
  topic_id uuid not null references notification_topics (id) on delete cascade,
  updated_at timestamptz not null default now()
);

-- The states the product's events are told from (the AI upstream up or down, a spike of
-- signature failures on or off), changed by one instance at a time (lib/notifications/events.ts).
create table notification_watches (
  source text primary key,
  state text not null,
  state_since timestamptz not null
);

-- API keys may be limited to scopes; a key without a scope is refused the operations that
-- require it (lib/accounts/scopes.ts).
alter table api_keys add column scopes text[] not null default '{}'
  check (scopes <@ array['notifications:publish', 'notifications:manage']::text[]);
