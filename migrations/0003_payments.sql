-- Buying tokens with mobile money through Paynow (lib/payments).

create table token_packages (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  tokens bigint not null check (tokens > 0),
  price_usd numeric(12, 2) check (price_usd > 0),
  price_zig numeric(12, 2) check (price_zig > 0),
  active boolean not null default true,
  position integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (price_usd is not null or price_zig is not null)
);
insert into token_packages (name, tokens, price_usd, price_zig, position) values
  ('Starter', 5000, 1.00, 30.00, 0),
  ('Regular', 30000, 5.00, 150.00, 1),
  ('Heavy', 70000, 10.00, 300.00, 2);

create table payments (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id),
  package_id uuid not null references token_packages (id),
  tokens bigint not null,
  currency text not null check (currency in ('USD', 'ZiG')),
  amount numeric(12, 2) not null,
  method text not null check (method in ('web', 'ecocash', 'onemoney', 'innbucks')),
  phone text,
  channel text not null default 'web' check (channel in ('web', 'whatsapp', 'api')),
  reference text not null unique,          -- ours, sent to Paynow (also the merchant trace)
  idempotency_key text,
  status text not null default 'created'
    check (status in ('created', 'sent', 'paid', 'cancelled', 'failed', 'expired')),
  paynow_reference text,
  poll_url text,
  browser_url text,
  instructions text,
  error text,
  flag text check (flag in ('amount_mismatch', 'cancelled_after_paid', 'refunded_after_paid')),
  credited_entry_id uuid references ledger_entries (id),
  poll_count integer not null default 0,
  next_poll_at timestamptz,                -- the record the reconciler reads: work never lost
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  settled_at timestamptz,
  unique (user_id, idempotency_key)
);
create index payments_user on payments (user_id, created_at desc);
create index payments_due on payments (next_poll_at) where status in ('created', 'sent');
create index payments_created on payments (created_at);
create index payments_flagged on payments (created_at desc) where flag is not null;

-- Every message exchanged with Paynow about a payment, raw, with the transition it caused.
create table payment_events (
  id bigint generated always as identity primary key,
  payment_id uuid not null references payments (id) on delete cascade,
  source text not null check (source in ('initiate', 'poll', 'result', 'trace', 'expiry', 'admin')),
  raw text,
  paynow_status text,
  status_from text,
  status_to text,
  note text,
  created_at timestamptz not null default now()
);
create index payment_events_payment on payment_events (payment_id, id);
