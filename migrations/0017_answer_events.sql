-- An answer's stream events where every instance reads them (lib/chat/answer_events.ts): a client
-- that reconnects with Last-Event-ID to another instance than the one generating the answer gets
-- the rest from here. Written in batches, pruned some minutes after the answer's last event.
-- No foreign key: the first events are written while the answer's rows are still being stored.
create table answer_events (
  message_id uuid not null,
  seq integer not null check (seq > 0),
  event text not null check (event = any (array['start', 'delta', 'usage', 'done', 'error'])),
  data jsonb not null,
  created_at timestamptz not null default now(),
  primary key (message_id, seq)
);

-- Until when a reader following the answer from another instance holds it past its grace period
-- (renewed every few seconds while the reader stays).
alter table messages add column followed_until timestamptz;
