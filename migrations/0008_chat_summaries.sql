-- AI chat (lib/chat): summaries of the turns the context budget drops, and stop requests that
-- reach the process generating an answer whichever process received them.

-- The model that folds dropped turns into conversations.summary; null → no summaries (older
-- turns are simply dropped). It runs on the configuration's own provider, base URL and key.
alter table ai_configs add column summary_model text;

alter table conversations
  -- The newest message the summary covers (its created_at): context assembly sends the summary
  -- instead of every turn up to here, and never those turns themselves.
  add column summary_through timestamptz,
  -- Tokens the summary model used for this conversation, all summaries together: an operating
  -- cost, never billed to the user.
  add column summary_tokens_in integer not null default 0,
  add column summary_tokens_out integer not null default 0;

-- Set by a stop request on any process; the process generating the answer polls it.
alter table messages add column stop_requested_at timestamptz;
