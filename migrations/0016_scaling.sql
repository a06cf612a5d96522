-- Several instances on one database behave as one system (docs/scaling.md).

-- The running instances (lib/instances.ts): a row each, its heartbeat refreshed every few
-- seconds, removed at a graceful stop. One not seen for a while is dead; the others then take
-- its share of the per-minute limits and of the WhatsApp send rate.
create table app_instances (
  id text primary key,
  host text not null,
  pid integer not null,
  version text not null,
  tz_metrics text not null,              -- every instance must count days alike (cron_runs)
  started_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now()
);
create index app_instances_last_seen on app_instances (last_seen_at);

-- The daily token cap, checked and held in the statement that reserves (lib/wallet/reservations.ts):
-- what the user's answers took or hold on `cap_day`, a day in TZ_METRICS. A reservation counts
-- against the day it was made.
alter table ledger_accounts add column cap_day date, add column cap_used bigint not null default 0;
alter table reservations add column cap_day date;

-- A phone's messages of a minute, counted for its allowance (lib/whatsapp/allowance.ts).
create index whatsapp_inbound_phone_received on whatsapp_inbound (phone, received_at);

-- When the phone was last sent to, kept with its send lease (lib/whatsapp/leases.ts): the gap
-- between two messages to one user holds whichever instance sends the next one.
alter table whatsapp_leases add column last_sent_at timestamptz;
