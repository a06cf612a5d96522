-- AI chat (lib/ai, lib/chat): provider configurations, conversations, messages.

create table ai_configs (
  id uuid primary key default gen_random_uuid(),
  name text not null unique,
  provider text not null check (provider in ('openai', 'anthropic')),
  model text not null,
  base_url text,
  api_key_encrypted text,                   -- AES-256-GCM under ENCRYPTION_KEY; never returned
  temperature numeric(3, 2) not null default 0.7 check (temperature between 0 and 2),
  max_output_tokens integer not null default 1024 check (max_output_tokens > 0),
  -- Wallet tokens charged per 1,000 model tokens.
  price_input_per_1k numeric(12, 4) not null default 1000 check (price_input_per_1k >= 0),
  price_output_per_1k numeric(12, 4) not null default 1000 check (price_output_per_1k >= 0),
  active boolean not null default true,
  is_default boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index ai_configs_one_default on ai_configs (is_default) where is_default;

create table conversations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id),
  mode text not null check (mode in ('chat', 'essay')),
  channel text not null default 'web' check (channel in ('web', 'whatsapp', 'api')),
  title text,
  summary text,
  created_at timestamptz not null default now(),
  last_activity_at timestamptz not null default now(),
  closed_at timestamptz
);
create index conversations_user on conversations (user_id, last_activity_at desc);
create index conversations_created on conversations (created_at);

create table messages (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null references conversations (id) on delete cascade,
  user_id uuid not null references users (id),
  role text not null check (role in ('user', 'assistant')),
  content text not null default '',
  status text not null default 'complete'
    check (status in ('streaming', 'complete', 'aborted', 'error')),
  channel text not null default 'web' check (channel in ('web', 'whatsapp', 'api')),
  mode text not null check (mode in ('chat', 'essay')),
  ai_config_id uuid references ai_configs (id),
  model text,
  tokens_in integer,
  tokens_out integer,
  usage_estimated boolean,
  cost bigint,                               -- wallet tokens charged
  latency_ms integer,                        -- request to last token
  ttft_ms integer,                           -- request to first token
  error_code text,
  created_at timestamptz not null default now(),
  completed_at timestamptz
);
create index messages_conversation on messages (conversation_id, created_at);
create index messages_created on messages (created_at);
