-- Telegram as a chat channel (lib/telegram): the channel joins the CHECKs that list
-- lib/channels.ts CHANNELS; Telegram chats linked to accounts with one-time codes; the updates
-- Telegram delivers, recorded once by `update_id`; the replies queued for them. The vocabularies
-- are the ones in lib/telegram/model.ts (a test compares them with these CHECKs).

alter table conversations drop constraint conversations_channel_check;
alter table conversations add constraint conversations_channel_check
  check (channel in ('web', 'whatsapp', 'api', 'telegram'));
alter table messages drop constraint messages_channel_check;
alter table messages add constraint messages_channel_check
  check (channel in ('web', 'whatsapp', 'api', 'telegram'));
alter table payments drop constraint payments_channel_check;
alter table payments add constraint payments_channel_check
  check (channel in ('web', 'whatsapp', 'api', 'telegram'));

-- A code a signed-in user asks for on /account and sends to the bot (`/link CODE`): keyed hash
-- only (HMAC under APP_SECRET), short-lived, used once.
create table telegram_link_codes (
  code_hash text primary key,
  user_id uuid not null references users (id) on delete cascade,
  expires_at timestamptz not null,
  used_at timestamptz,
  created_at timestamptz not null default now()
);
create index telegram_link_codes_user on telegram_link_codes (user_id, created_at desc);

-- A private chat with the bot (its id is the Telegram user's id) linked to one account, with the
-- conversation's state (the WhatsApp bot's session shape, lib/whatsapp/bot/types.ts).
create table telegram_links (
  chat_id bigint primary key,
  user_id uuid not null unique references users (id) on delete cascade,
  -- The Telegram @username when there is one: shown on /account so the user knows which.
  username text,
  state jsonb,
  linked_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Each update Telegram delivers, once (a redelivery finds its row). `working` is held by one
-- worker until `leased_until`; `attempts` counts the claims and fences a worker whose lease ran
-- out. The input is what the user sent, already normalised (lib/telegram/update.ts).
create table telegram_updates (
  update_id bigint primary key,
  chat_id bigint not null,
  -- The sender's @username, if any (kept on the link when the update links the chat).
  username text,
  input jsonb not null,
  status text not null default 'pending'
    check (status in ('pending', 'working', 'answered', 'skipped', 'failed')),
  attempts integer not null default 0,
  leased_until timestamptz,
  error text,
  received_at timestamptz not null default now(),
  processed_at timestamptz
);
create index telegram_updates_open on telegram_updates (chat_id, update_id)
  where status in ('pending', 'working');
create index telegram_updates_received on telegram_updates (received_at);

-- The messages an update's answer is made of, sent in order per chat by `telegram.send`.
create table telegram_outbound (
  id bigserial primary key,
  chat_id bigint not null,
  update_id bigint not null references telegram_updates (update_id) on delete cascade,
  part integer not null,
  -- sendMessage's parameters but chat_id.
  message jsonb not null,
  status text not null default 'queued' check (status in ('queued', 'sending', 'sent', 'failed')),
  attempts integer not null default 0,
  not_before timestamptz,
  leased_until timestamptz,
  error text,
  telegram_message_id bigint,
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  unique (update_id, part)
);
create index telegram_outbound_open on telegram_outbound (chat_id, id)
  where status in ('queued', 'sending');

-- The staff's live feed reads finished answers by when they finished (lib/metrics/feed.ts).
create index messages_completed on messages (completed_at) where role = 'assistant';

-- Every message of every conversation is a product event an admin may route to a topic (a
-- Slack channel for operators, say).
alter table notification_event_routes drop constraint notification_event_routes_event_check;
alter table notification_event_routes add constraint notification_event_routes_event_check
  check (event in (
    'payment.paid', 'payment.failed', 'payment.expired', 'job.dead_lettered',
    'ai.upstream_down', 'ai.upstream_recovered', 'webhook.signature_spike', 'account.signed_up',
    'grievance.created', 'conversation.message'
  ));
