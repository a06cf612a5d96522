-- Background work (lib/jobs): dead letters and cron ticks. KV delivers jobs; these tables are
-- the durable record an operator acts on.

create table job_failures (
  id uuid primary key default gen_random_uuid(),
  job_id text not null unique,           -- the job's id: one row however often it dies
  job text not null,
  payload jsonb not null,
  attempts integer not null,
  last_error text not null,
  status text not null default 'dead' check (status in ('dead', 'retried', 'discarded')),
  first_seen timestamptz not null default now(),
  last_seen timestamptz not null default now(),
  resolved_at timestamptz
);
create index job_failures_open on job_failures (last_seen desc) where status = 'dead';

-- One row per schedule and tick: the insert is the claim, so with several instances on one
-- database each tick runs once.
create table cron_runs (
  name text not null,
  scheduled_for timestamptz not null,
  instance text not null,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  status text not null default 'running' check (status in ('running', 'ok', 'failed', 'skipped')),
  error text,
  primary key (name, scheduled_for)
);
