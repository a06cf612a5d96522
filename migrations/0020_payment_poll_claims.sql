-- Who holds a payment's poll (lib/payments/poll.ts): the batch that claimed it. The claim's lease
-- is `next_poll_at`, short and renewed while the batch works, so a dead instance's polls are taken
-- over within a minute; answers are recorded only while the batch still holds the claim.
alter table payments add column poll_claim uuid;
