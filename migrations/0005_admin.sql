-- The admin dashboard (routes/admin, lib/metrics): daily figures and the audit trail.

-- One row per day, metric and dimension key, written by the `metrics.daily` schedule
-- (lib/metrics/daily.ts). `dims` is '' for the day's total or sorted `key=value` pairs joined by
-- commas ('channel=web,mode=chat'); the dashboard reads exact keys, never sums across them.
create table daily_metrics (
  day date not null,                      -- the day in TZ_METRICS
  metric text not null,                   -- 'messages.in', 'payments.paid_amount', ...
  dims text not null default '',
  value numeric not null,
  computed_at timestamptz not null default now(),
  primary key (day, metric, dims)
);
-- Charts read a few series over a range of days.
create index daily_metrics_series on daily_metrics (metric, dims, day);

-- Every change an admin makes: who, what, to what, the state before and after, and why.
create table audit_log (
  id bigint generated always as identity primary key,
  actor_id uuid references users (id),
  action text not null,                   -- 'user.adjust_balance', 'payment.poll', ...
  target_type text not null,              -- 'user', 'payment', 'job_failure', 'setting', ...
  target_id text,
  before jsonb,
  after jsonb,
  reason text,
  request_id text,
  at timestamptz not null default now()
);
create index audit_log_at on audit_log (at desc);
create index audit_log_target on audit_log (target_type, target_id, at desc);

-- The daily figures are range scans on the day. users, messages, ledger_entries and payments
-- (created_at) already have their index; these are the missing ones.
create index payments_settled on payments (settled_at) where settled_at is not null;
create index job_failures_first_seen on job_failures (first_seen);

-- Admin search over e-mail, phone and name (`ILIKE '%…%'`): a trigram index keeps it off a
-- sequential scan as the user table grows. The expression must match routes/admin/users.tsx.
create extension if not exists pg_trgm;
create index users_search on users using gin (
  (coalesce(email, '') || ' ' || coalesce(phone, '') || ' ' || coalesce(display_name, ''))
  gin_trgm_ops
);
