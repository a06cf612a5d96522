-- Accounts, authentication and the token wallet (lib/accounts, lib/wallet).

create table tiers (
  name text primary key,
  requests_per_minute integer not null check (requests_per_minute > 0),
  daily_token_cap bigint not null check (daily_token_cap >= 0),  -- 0 = no cap
  position integer not null default 0
);
insert into tiers (name, requests_per_minute, daily_token_cap, position) values
  ('free', 20, 20000, 0),
  ('standard', 60, 200000, 1),
  ('pro', 240, 0, 2);

-- Small operator-editable settings (signup grant, ...), one JSON value per key.
create table settings (
  key text primary key,
  value jsonb not null,
  updated_at timestamptz not null default now()
);

create table users (
  id uuid primary key default gen_random_uuid(),
  email text,
  password_hash text,
  display_name text,
  phone text unique,                       -- E.164, e.g. +263771234567
  role text not null default 'user' check (role in ('user', 'admin')),
  tier text not null default 'free' references tiers (name),
  disabled_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (email is not null or phone is not null)
);
create unique index users_email_key on users (lower(email));
create index users_created_at on users (created_at);

-- Refresh tokens rotate on every use; presenting a rotated one revokes its whole family.
create table refresh_tokens (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  family_id uuid not null,
  token_hash text not null unique,
  expires_at timestamptz not null,
  rotated_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz not null default now()
);
create index refresh_tokens_family on refresh_tokens (family_id);

-- Browser sessions (HttpOnly cookie holds the token; only its hash is stored).
create table sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  token_hash text not null unique,
  expires_at timestamptz not null,
  revoked_at timestamptz,
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now()
);
create index sessions_user on sessions (user_id);

create table api_keys (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  name text not null,
  prefix text not null,                    -- shown to the owner: hk_ab12cd34…
  key_hash text not null unique,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
create index api_keys_user on api_keys (user_id);

create table password_resets (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  token_hash text not null unique,
  expires_at timestamptz not null,
  used_at timestamptz,
  created_at timestamptz not null default now()
);

create table phone_links (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  phone text not null,
  code_hash text not null,
  attempts integer not null default 0,
  expires_at timestamptz not null,
  verified_at timestamptz,
  created_at timestamptz not null default now()
);
create index phone_links_user on phone_links (user_id, created_at desc);

-- The wallet: double-entry. Every entry moves `amount` tokens from its debit account to its
-- credit account; an account's balance is the sum of what it was credited minus what it was
-- debited, kept in `balance` in the same transaction. Users' accounts can never go negative;
-- system accounts (where tokens come from and go to) can. All balances sum to zero.
create table ledger_accounts (
  id uuid primary key default gen_random_uuid(),
  kind text not null check (kind in ('user', 'system')),
  user_id uuid unique references users (id) on delete restrict,
  name text not null unique,                -- 'user:<id>' or 'system:sales' ...
  balance bigint not null default 0,
  reserved bigint not null default 0 check (reserved >= 0),
  updated_at timestamptz not null default now(),
  check (kind = 'system' or (user_id is not null and balance >= 0 and reserved <= balance))
);
insert into ledger_accounts (kind, name) values
  ('system', 'system:sales'),        -- purchased tokens come from here
  ('system', 'system:usage'),        -- tokens spent on AI go here
  ('system', 'system:refunds'),
  ('system', 'system:adjustments'),
  ('system', 'system:grants');

create table ledger_entries (
  id uuid primary key default gen_random_uuid(),
  seq bigint generated always as identity unique,  -- stable order for cursors
  idempotency_key text not null unique,
  kind text not null check (kind in
    ('purchase_credit', 'usage_debit', 'refund', 'admin_adjustment', 'signup_grant')),
  debit_account uuid not null references ledger_accounts (id),
  credit_account uuid not null references ledger_accounts (id),
  amount bigint not null check (amount > 0),
  user_id uuid not null references users (id),
  description text not null,
  reference jsonb not null default '{}',
  admin_id uuid references users (id),
  created_at timestamptz not null default now(),
  check (debit_account <> credit_account),
  check (kind <> 'admin_adjustment' or admin_id is not null)
);
create index ledger_entries_user on ledger_entries (user_id, seq desc);
create index ledger_entries_created on ledger_entries (created_at);

-- Holds on a wallet while AI work streams: estimate reserved first, actual usage settled after.
create table reservations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id),
  amount bigint not null check (amount > 0),
  status text not null default 'open' check (status in ('open', 'settled', 'released', 'expired')),
  purpose text not null,
  used bigint,
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  closed_at timestamptz
);
create index reservations_open on reservations (expires_at) where status = 'open';
