-- Bots with their own knowledge (lib/bots): bots, their training sources and the chunks those
-- are split into, visitor conversations (the chat's tables, scoped by bot), outgoing webhooks
-- and daily figures. Every list of values below is also defined in lib/bots/model.ts
-- (a test compares them).

-- What each tier may do with bots.
alter table tiers
  add column bots_max integer not null default 2 check (bots_max >= 0),
  add column bot_sources_max integer not null default 50 check (bot_sources_max >= 0),
  add column bot_file_max_bytes bigint not null default 5242880 check (bot_file_max_bytes > 0);
update tiers set bots_max = 10, bot_sources_max = 500, bot_file_max_bytes = 20971520
  where name = 'standard';
update tiers set bots_max = 50, bot_sources_max = 5000, bot_file_max_bytes = 52428800
  where name = 'pro';

create table bots (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null references users (id) on delete cascade,
  name text not null,
  greeting text not null default '',
  instructions text not null default '',
  model text,                                -- null → the service's default model
  temperature numeric(3, 2) not null default 0.3 check (temperature between 0 and 2),
  knowledge_only boolean not null default true,
  allowed_origins text[] not null default '{}',
  active boolean not null default true,
  public_key text not null unique,           -- names the bot in its embed snippet
  -- Bumped in the transaction that changes which chunks answer: caches compare it.
  knowledge_version bigint not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index bots_owner on bots (owner_id, created_at desc);

create table bot_sources (
  id uuid primary key default gen_random_uuid(),
  bot_id uuid not null references bots (id) on delete cascade,
  kind text not null check (kind in ('text', 'file', 'url', 'sitemap')),
  title text not null,
  body text,                                 -- pasted text
  url text,                                  -- url and sitemap sources
  storage_key text,                          -- uploaded files (lib/bots/storage.ts)
  media_type text,                           -- as detected from the content
  byte_size bigint,
  parent_id uuid references bot_sources (id) on delete cascade,  -- a sitemap's pages
  status text not null default 'queued'
    check (status in ('queued', 'processing', 'ready', 'failed')),
  error text,                                -- why it failed, in words a person can act on
  -- Each training run builds a new version; the ready one answers until the next is complete.
  version integer not null default 1,
  ready_version integer,
  content_hash text,                         -- of the text the building version was cut from
  ready_hash text,                           -- of the text the ready version was cut from
  embedder text,                             -- which embedder made the ready version's vectors
  chunks_total integer,
  chunks_done integer not null default 0,
  queued_at timestamptz not null default now(),
  heartbeat_at timestamptz,                  -- last sign of life of the run building it
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index bot_sources_bot on bot_sources (bot_id, created_at);
-- The wait line ("3 sources ahead") and the reconciler's sweep.
create index bot_sources_pending on bot_sources (queued_at) where status in ('queued', 'processing');

create table bot_chunks (
  id bigint generated always as identity primary key,
  bot_id uuid not null references bots (id) on delete cascade,
  source_id uuid not null references bot_sources (id) on delete cascade,
  version integer not null,
  ordinal integer not null,
  heading text not null default '',
  content text not null,
  tokens integer not null,
  embedding bytea,                           -- float32, little-endian, unit length
  tsv tsvector generated always as (
    setweight(to_tsvector('english', heading), 'A') || to_tsvector('english', content)
  ) stored,
  -- A chunk's key: a run that dies and starts again never stores a chunk twice.
  unique (source_id, version, ordinal)
);
create index bot_chunks_bot on bot_chunks (bot_id);
create index bot_chunks_tsv on bot_chunks using gin (tsv);

-- Each bot's vocabulary (the lexemes of its chunks), so full-text search can put a misspelt
-- word right ("pasword" → "password") by trigram similarity. Only grows; a stale lexeme only
-- widens a query by a word that matches nothing.
create table bot_lexemes (
  bot_id uuid not null references bots (id) on delete cascade,
  lexeme text not null,
  primary key (bot_id, lexeme)
);
create index bot_lexemes_trgm on bot_lexemes using gin (lexeme gin_trgm_ops);

-- Visitor conversations are the chat's conversations and messages, scoped by bot; the bot's
-- owner is their user (who pays).
alter table conversations
  add column bot_id uuid references bots (id) on delete cascade,
  add column visitor_id text;
create index conversations_bot_visitor on conversations (bot_id, visitor_id, last_activity_at desc)
  where bot_id is not null;

alter table messages
  add column bot_id uuid references bots (id) on delete cascade,
  add column citations jsonb,
  -- How well the knowledge matched the question (lib/bots/retrieval.ts): the best vector
  -- score, and whether nothing fitted (what the bot's owner should add). Null: not a bot's.
  add column knowledge_score real,
  add column knowledge_weak boolean,
  add column feedback smallint check (feedback in (-1, 1));
create index messages_bot on messages (bot_id, created_at) where bot_id is not null;

create table bot_webhooks (
  id uuid primary key default gen_random_uuid(),
  bot_id uuid not null references bots (id) on delete cascade,
  url text not null,
  events text[] not null
    check (events <@ array['conversation.started', 'message.created', 'feedback.given']::text[]
           and cardinality(events) > 0),
  secret_encrypted text not null,            -- AES-256-GCM under ENCRYPTION_KEY
  active boolean not null default true,
  created_at timestamptz not null default now()
);
create index bot_webhooks_bot on bot_webhooks (bot_id);

create table bot_webhook_deliveries (
  id uuid primary key default gen_random_uuid(),
  webhook_id uuid not null references bot_webhooks (id) on delete cascade,
  event text not null
    check (event in ('conversation.started', 'message.created', 'feedback.given')),
  payload jsonb not null,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  attempts integer not null default 0,
  response_status integer,
  last_error text,
  next_attempt_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  delivered_at timestamptz
);
create index bot_webhook_deliveries_hook on bot_webhook_deliveries (webhook_id, created_at desc);
create index bot_webhook_deliveries_pending on bot_webhook_deliveries (next_attempt_at)
  where status = 'pending';

-- One row per bot and day (in TZ_METRICS), written by the daily metrics job.
create table bot_daily_metrics (
  bot_id uuid not null references bots (id) on delete cascade,
  day date not null,
  conversations integer not null,
  messages integer not null,                 -- questions asked
  tokens_in bigint not null,
  tokens_out bigint not null,
  cost bigint not null,                      -- wallet tokens
  weak_answers integer not null,
  thumbs_up integer not null,
  thumbs_down integer not null,
  computed_at timestamptz not null default now(),
  primary key (bot_id, day)
);
