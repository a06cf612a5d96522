-- AI chat (lib/chat): prompts and budgets per configuration, the reservation behind each
-- answer, and the lookup of a user's open conversation on a channel.

alter table ai_configs
  add column system_prompt text,            -- chat mode; null → the built-in prompt
  add column essay_system_prompt text,      -- essay mode; null → the built-in prompt
  -- Input tokens a chat prompt may use (system prompt + history + the new message).
  add column context_tokens integer not null default 6000 check (context_tokens >= 256),
  add column essay_max_output_tokens integer not null default 2048
    check (essay_max_output_tokens > 0);

-- The wallet hold taken for an assistant message; settled or released when it ends.
alter table messages add column reservation_id uuid references reservations (id);

-- "The user's open conversation of this mode on this channel, most recent first."
create index conversations_open on conversations (user_id, channel, mode, last_activity_at desc)
  where closed_at is null;

-- Answers left streaming by a process that died are found and closed by this index.
create index messages_streaming on messages (created_at) where status = 'streaming';
