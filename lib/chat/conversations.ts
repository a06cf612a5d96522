/**
 * Conversations and their messages. A chat conversation remembers; it idles out after
 * `chat_idle_ttl_minutes` (a setting, default 30) or when the user resets it, and the next
 * message starts a new one. An essay conversation holds one question and its answer.
 */
import { z } from "zod";
import type { Sql } from "../db/mod.ts";
import { type ColumnsOf, fieldsOf } from "../db/rows.ts";
import type { Channel } from "../channels.ts";
import type { Turn } from "./context.ts";

export type { Channel };
/** Chat remembers the conversation; an essay is one question and its answer. */
export const MODES = ["chat", "essay"] as const;
export type Mode = typeof MODES[number];

export interface Conversation {
  id: string;
  userId: string;
  mode: Mode;
  channel: Channel;
  title: string | null;
  summary: string | null;
  createdAt: Date;
  lastActivityAt: Date;
  closedAt: Date | null;
  /** The bot whose conversation this is (lib/bots); null for the user's own chat. */
  botId: string | null;
  /** The bot's visitor (an anonymous id their browser keeps); null when its owner asks. */
  visitorId: string | null;
}

export interface Message {
  id: string;
  conversationId: string;
  role: "user" | "assistant";
  content: string;
  status: "streaming" | "complete" | "aborted" | "error";
  model: string | null;
  tokensIn: number | null;
  tokensOut: number | null;
  cost: number | null;
  latencyMs: number | null;
  ttftMs: number | null;
  errorCode: string | null;
  createdAt: Date;
  completedAt: Date | null;
}

/** A `conversations` row: its columns are named and typed as a {@link Conversation}'s fields. */
type ConversationRow = ColumnsOf<Conversation>;

function toConversation(r: ConversationRow): Conversation {
  return fieldsOf(r, [
    "id",
    "user_id",
    "mode",
    "channel",
    "title",
    "summary",
    "created_at",
    "last_activity_at",
    "closed_at",
    "bot_id",
    "visitor_id",
  ]);
}

/** A `messages` row (the columns a {@link Message} is read from). */
export type MessageRow = ColumnsOf<Omit<Message, "cost">> & {
  /** A bigint: postgres.js reads it as a string. */
  cost: string | null;
};

function toMessage(r: MessageRow): Message {
  return {
    ...fieldsOf(r, [
      "id",
      "conversation_id",
      "role",
      "content",
      "status",
      "model",
      "tokens_in",
      "tokens_out",
    ]),
    cost: r.cost === null ? null : Number(r.cost),
    ...fieldsOf(r, ["latency_ms", "ttft_ms", "error_code", "created_at", "completed_at"]),
  };
}

// ---- settings ------------------------------------------------------------------------------

const ChatSettings = z.object({
  /** Minutes without a message after which a chat conversation is over. */
  idleTtlMinutes: z.number().positive().max(7 * 24 * 60).default(30),
  /** How long a web answer keeps generating after its reader disconnected. */
  streamGraceSeconds: z.number().min(0).max(600).default(30),
});
export type ChatSettings = z.infer<typeof ChatSettings>;

const SETTING_KEYS = {
  idleTtlMinutes: "chat_idle_ttl_minutes",
  streamGraceSeconds: "chat_stream_grace_seconds",
} as const;

/** The chat's operator settings (rows of `settings`; a malformed value falls back). */
export async function chatSettings(sql: Sql): Promise<ChatSettings> {
  const rows = await sql<{ key: string; value: unknown }[]>`select key, value from settings
                         where key in ${sql(Object.values(SETTING_KEYS))}`;
  const raw: Record<string, unknown> = {};
  for (const [field, key] of Object.entries(SETTING_KEYS)) {
    const value = rows.find((r) => r.key === key)?.value;
    if (typeof value === "number") raw[field] = value;
  }
  const parsed = ChatSettings.safeParse(raw);
  return parsed.success ? parsed.data : ChatSettings.parse({});
}

export async function setChatSetting(
  sql: Sql,
  field: keyof ChatSettings,
  value: number,
): Promise<void> {
  ChatSettings.shape[field].parse(value);
  await sql`insert into settings (key, value) values (${SETTING_KEYS[field]}, ${sql.json(value)})
            on conflict (key) do update set value = excluded.value, updated_at = now()`;
}

// ---- conversations -------------------------------------------------------------------------

export async function createConversation(
  sql: Sql,
  input: { userId: string; mode: Mode; channel: Channel; title?: string | null },
): Promise<Conversation> {
  const [row] = await sql<ConversationRow[]>`
    insert into conversations (user_id, mode, channel, title)
    values (${input.userId}, ${input.mode}, ${input.channel}, ${input.title ?? null})
    returning *`;
  return toConversation(row);
}

export async function getConversation(
  sql: Sql,
  userId: string,
  id: string,
): Promise<Conversation | null> {
  if (!z.uuid().safeParse(id).success) return null;
  const [row] = await sql<ConversationRow[]>`
    select * from conversations where id = ${id} and user_id = ${userId} and bot_id is null`;
  return row ? toConversation(row) : null;
}

/** A bot's conversation with one visitor (`visitorId` null: with its owner). */
export async function getBotConversation(
  sql: Sql,
  input: { botId: string; visitorId: string | null; id: string },
): Promise<Conversation | null> {
  if (!z.uuid().safeParse(input.id).success) return null;
  const [row] = await sql<ConversationRow[]>`
    select * from conversations
    where id = ${input.id} and bot_id = ${input.botId}
      and visitor_id is not distinct from ${input.visitorId}`;
  return row ? toConversation(row) : null;
}

/** The visitor's open conversation with the bot within the idle TTL, if any. */
export async function findOpenBotConversation(
  sql: Sql,
  input: { botId: string; visitorId: string | null; idleTtlMinutes: number },
): Promise<Conversation | null> {
  const [row] = await sql<ConversationRow[]>`
    select * from conversations
    where bot_id = ${input.botId} and visitor_id is not distinct from ${input.visitorId}
      and mode = 'chat' and closed_at is null
      and last_activity_at > now() - ${input.idleTtlMinutes * 60} * interval '1 second'
    order by last_activity_at desc limit 1`;
  return row ? toConversation(row) : null;
}

/** Whether a conversation can take another message with its memory intact. */
export function isOpen(c: Conversation, settings: ChatSettings, now = new Date()): boolean {
  return c.mode === "chat" && c.closedAt === null &&
    now.getTime() - c.lastActivityAt.getTime() < settings.idleTtlMinutes * 60_000;
}

/**
 * The user's open chat conversation on `channel` within the idle TTL, if any, with its memory
 * (see {@link conversationMemory}) read in the same statement.
 */
export async function findOpenConversation(
  sql: Sql,
  input: { userId: string; channel: Channel; idleTtlMinutes: number },
  limit = 100,
): Promise<{ conversation: Conversation; memory: Memory } | null> {
  const rows = await sql<
    (ConversationRow & { turn_id: string | null; turn_role: Turn["role"]; turn_content: string })[]
  >`
    with c as (
      select * from conversations
      where user_id = ${input.userId} and channel = ${input.channel} and mode = 'chat'
        and closed_at is null and bot_id is null
        and last_activity_at > now() - ${input.idleTtlMinutes * 60} * interval '1 second'
      order by last_activity_at desc limit 1
    )
    select c.*, m.id as turn_id, m.role as turn_role, m.content as turn_content
    from c ${rememberedTurns(sql, limit)}
    order by m.created_at, m.role desc`;
  if (rows.length === 0) return null;
  return {
    conversation: toConversation(rows[0]),
    memory: {
      summary: rows[0].summary,
      turns: rows.flatMap((r) =>
        r.turn_id === null ? [] : [{ id: r.turn_id, role: r.turn_role, content: r.turn_content }]
      ),
    },
  };
}

/** Closes every open conversation of the user on `channel`: the next message starts afresh. */
export async function closeOpenConversations(
  sql: Sql,
  userId: string,
  channel: Channel,
): Promise<number> {
  const rows = await sql`update conversations set closed_at = now()
                         where user_id = ${userId} and channel = ${channel} and closed_at is null
                           and bot_id is null
                         returning id`;
  return rows.length;
}

export async function closeConversation(sql: Sql, userId: string, id: string): Promise<boolean> {
  if (!z.uuid().safeParse(id).success) return false;
  const rows = await sql`update conversations set closed_at = coalesce(closed_at, now())
                         where id = ${id} and user_id = ${userId} and bot_id is null
                         returning id`;
  return rows.length > 0;
}

export async function listConversations(
  sql: Sql,
  userId: string,
  options: { limit?: number; before?: Date } = {},
): Promise<Conversation[]> {
  const limit = options.limit ?? 30;
  const rows = options.before
    ? await sql<ConversationRow[]>`select * from conversations
                  where user_id = ${userId} and bot_id is null
                  and last_activity_at < ${options.before}
                order by last_activity_at desc limit ${limit}`
    : await sql<ConversationRow[]>`select * from conversations
                where user_id = ${userId} and bot_id is null
                order by last_activity_at desc limit ${limit}`;
  return rows.map(toConversation);
}

export async function listMessages(
  sql: Sql,
  conversationId: string,
  limit = 200,
): Promise<Message[]> {
  const rows = await sql<MessageRow[]>`
    select * from (select * from messages where conversation_id = ${conversationId}
                   order by created_at desc, role desc limit ${limit}) m
    order by created_at, role desc`;
  return rows.map(toMessage);
}

export async function getMessage(sql: Sql, userId: string, id: string): Promise<Message | null> {
  if (!z.uuid().safeParse(id).success) return null;
  const [row] = await sql<MessageRow[]>`
    select * from messages where id = ${id} and user_id = ${userId}`;
  return row ? toMessage(row) : null;
}

/** A turn and the conversation's summary; a conversation without turns has one row of nulls. */
type MemoryRow =
  & { summary: string | null }
  & (
    | { id: string; role: Turn["role"]; content: string }
    | { id: null; role: null; content: null }
  );

/** What a chat remembers: the summary of its older turns, and the turns after it. */
export interface Memory {
  /** Stands in for every turn up to `conversations.summary_through`; null → none yet. */
  summary: string | null;
  /** Turns the summary does not cover, oldest first, with their message ids. */
  turns: Turn[];
}

/**
 * The turns the model may remember, oldest first: answered exchanges and stopped answers
 * (what the user saw). Failed answers are left out; the user's messages always count. Turns the
 * summary covers are left out too, and the summary is read in the same statement, so a summary
 * stored meanwhile can never make a turn count twice (or not at all).
 */
export async function conversationMemory(
  sql: Sql,
  conversationId: string,
  limit = 100,
): Promise<Memory> {
  const rows = await sql<MemoryRow[]>`
    with c as (select id, summary, summary_through from conversations
               where id = ${conversationId})
    select c.summary, m.id, m.role, m.content
    from c ${rememberedTurns(sql, limit)}
    order by m.created_at, m.role desc`;
  return {
    summary: rows[0]?.summary ?? null,
    turns: rows.flatMap((r) =>
      r.id === null ? [] : [{ id: r.id, role: r.role, content: r.content }]
    ),
  };
}

/**
 * The last `limit` turns `conversationMemory` describes of the conversation row `c` (its `id`
 * and `summary_through`), as `m`: a lateral join, none giving one row of nulls.
 */
const rememberedTurns = (sql: Sql, limit: number) =>
  sql`left join lateral (
        select id, role, content, created_at from messages
        where conversation_id = c.id and content <> ''
          and (role = 'user' or status in ('complete', 'aborted'))
          and created_at > coalesce(c.summary_through, '-infinity')
        order by created_at desc, role desc limit ${limit}) m on true`;

/**
 * Answers left `streaming` by a process that died mid-answer are marked failed (their
 * reservation expires and the wallet sweep releases it: nothing is billed). Only answers older
 * than `olderThanMinutes` are touched, so other instances' live answers are left alone.
 */
export async function closeInterruptedAnswers(sql: Sql, olderThanMinutes = 15): Promise<number> {
  const rows = await sql`
    update messages set status = 'error', error_code = 'interrupted', completed_at = now()
    where status = 'streaming'
      and created_at < now() - ${olderThanMinutes * 60} * interval '1 second'
    returning id`;
  return rows.length;
}
