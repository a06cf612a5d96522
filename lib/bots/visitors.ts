/**
 * The people who talk to a bot on its owner's website, without an account: each is an
 * anonymous id their browser keeps (localStorage), under which their conversation is kept.
 *
 * Every request of the embed names the page's origin (`Origin`), which must be one the owner
 * allowed (or our own, where the owner tries the bot); visitors are held to a few questions a
 * minute each, and the bot to its owner's tier rate.
 */
import { z } from "zod";
import type { Sql } from "../db/mod.ts";
import { AppError } from "../errors.ts";
import type { RateLimiter } from "../ratelimit.ts";
import { textField } from "../text.ts";
import { normaliseOrigin } from "./bots.ts";
import { type Bot, type Citation, FEEDBACK_VALUE, type FeedbackRating } from "./model.ts";

/** A visitor id as the embed makes it: `v_` and 16 to 64 URL-safe characters. */
export const VisitorId = textField().regex(
  /^v_[A-Za-z0-9_-]{16,64}$/,
  "expected the visitor id the embed script made (v_ and 16–64 letters, digits, _ or -)",
);

/** Questions a minute one visitor may ask one bot. */
export const VISITOR_MESSAGES_PER_MINUTE = 10;

/**
 * Whether a page of `origin` may talk to the bot: one of its allowed origins, or our own
 * (`PUBLIC_URL`, where its owner tries it). Otherwise throws `forbidden` naming the origin.
 */
export function checkOrigin(bot: Bot, origin: string | undefined, ownOrigin: string): string {
  const normal = origin ? normaliseOrigin(origin) : null;
  if (normal && (normal === ownOrigin || bot.allowedOrigins.includes(normal))) return normal;
  throw new AppError(
    "forbidden",
    origin
      ? `This bot does not answer on ${
        origin.slice(0, 100)
      }: its owner has not allowed that website.`
      : "This bot answers only on the websites its owner allowed (no Origin was sent).",
  );
}

/** Counts one question of a visitor; `rate_limited` with the wait when over either limit. */
export async function countQuestion(
  rateLimiter: RateLimiter,
  bot: Bot,
  visitorId: string,
  botPerMinute: number,
): Promise<void> {
  for (
    const [bucket, limit, who] of [
      [["bot_visitor", bot.id, visitorId], VISITOR_MESSAGES_PER_MINUTE, "you"],
      [["bot", bot.id], botPerMinute, "this bot"],
    ] as const
  ) {
    const decision = await rateLimiter.hit([...bucket], limit);
    if (!decision.allowed) {
      throw new AppError(
        "rate_limited",
        `Too many questions: ${who} may ask ${limit} a minute. ` +
          `Try again in ${decision.retryAfterSeconds} seconds.`,
        { retryAfterSeconds: decision.retryAfterSeconds },
      );
    }
  }
}

export interface VisitorMessage {
  id: string;
  role: "user" | "assistant";
  content: string;
  status: string;
  citations: Citation[];
  feedback: FeedbackRating | null;
  createdAt: Date;
}

/** A `messages` row (the columns a {@link VisitorMessage} is read from). */
interface VisitorMessageRow {
  id: string;
  role: "user" | "assistant";
  content: string;
  status: string;
  citations: Citation[] | null;
  /** `FEEDBACK_VALUE` of the rating, null when none was given. */
  feedback: number | null;
  created_at: Date;
}

/** The visitor's open conversation with the bot and its messages (none: an empty list). */
export async function visitorHistory(
  sql: Sql,
  bot: Bot,
  visitorId: string,
  idleTtlMinutes: number,
): Promise<{ conversationId: string | null; messages: VisitorMessage[] }> {
  const [conversation] = await sql<{ id: string }[]>`
    select id from conversations
    where bot_id = ${bot.id} and visitor_id = ${visitorId} and closed_at is null
      and last_activity_at > now() - ${idleTtlMinutes * 60} * interval '1 second'
    order by last_activity_at desc limit 1`;
  if (!conversation) return { conversationId: null, messages: [] };
  const rows = await sql<VisitorMessageRow[]>`
    select id, role, content, status, citations, feedback, created_at from messages
    where conversation_id = ${conversation.id}
    order by created_at, role desc limit 200`;
  return {
    conversationId: conversation.id,
    messages: rows.map((r) => ({
      id: r.id,
      role: r.role,
      content: r.content,
      status: r.status,
      citations: r.citations ?? [],
      feedback: r.feedback === 1 ? "up" : r.feedback === -1 ? "down" : null,
      createdAt: r.created_at,
    })),
  };
}

/** Whether the answer `messageId` is the bot's, to this visitor. */
export async function isVisitorsAnswer(
  sql: Sql,
  bot: Bot,
  visitorId: string,
  messageId: string,
): Promise<boolean> {
  if (!z.uuid().safeParse(messageId).success) return false;
  const [row] = await sql`
    select 1 from messages m join conversations c on c.id = m.conversation_id
    where m.id = ${messageId} and m.bot_id = ${bot.id} and m.role = 'assistant'
      and c.visitor_id = ${visitorId}`;
  return !!row;
}

/** Records a thumbs up or down on an answer; false when it is not the visitor's. */
export async function giveFeedback(
  sql: Sql,
  bot: Bot,
  visitorId: string | null,
  messageId: string,
  rating: FeedbackRating,
): Promise<{ conversationId: string } | null> {
  if (!z.uuid().safeParse(messageId).success) return null;
  const [row] = await sql<{ conversation_id: string }[]>`
    update messages m set feedback = ${FEEDBACK_VALUE[rating]}
    from conversations c
    where m.id = ${messageId} and m.bot_id = ${bot.id} and m.role = 'assistant'
      and c.id = m.conversation_id and c.visitor_id is not distinct from ${visitorId}
    returning m.conversation_id`;
  return row ? { conversationId: row.conversation_id } : null;
}
