/**
 * Conversations as the admin dashboard reads them (read-only). Masking phone numbers and
 * e-mail addresses is the page's job; these return the rows as stored.
 */
import type { MessageRow } from "../chat/conversations.ts";
import type { Sql } from "../db/mod.ts";
import { likePattern, type Page } from "./query.ts";

export interface ConversationRow {
  id: string;
  mode: string;
  channel: string;
  title: string | null;
  created_at: Date;
  last_activity_at: Date | null;
  closed_at: Date | null;
  user_id: string;
  email: string | null;
  phone: string | null;
  messages: number;
}

/**
 * Conversations whose title, or whose person (e-mail, phone, name), matches `q`; newest first;
 * limit + 1 rows.
 */
export async function searchConversations(
  sql: Sql,
  q: string,
  page: Page,
): Promise<ConversationRow[]> {
  const pattern = likePattern(q);
  // People are matched through users_search (the trigram index); newest first on
  // conversations_created.
  return await sql<ConversationRow[]>`
    select c.id, c.mode, c.channel, c.title, c.created_at, c.last_activity_at, c.closed_at,
           u.id as user_id, u.email, u.phone,
           (select count(*)::int from messages m where m.conversation_id = c.id) as messages
    from conversations c join users u on u.id = c.user_id
    ${
    q
      ? sql`where c.title ilike ${pattern} or c.user_id in (
              select id from users
              where (coalesce(email, '') || ' ' || coalesce(phone, '') || ' ' ||
                     coalesce(display_name, '')) ilike ${pattern})`
      : sql``
  }
    order by c.created_at desc
    limit ${page.limit + 1} offset ${page.offset}`;
}

/** One conversation with its summary, and its person's e-mail and phone. */
export type ConversationDetail = Omit<ConversationRow, "messages"> & { summary: string | null };

export async function getConversation(sql: Sql, id: string): Promise<ConversationDetail | null> {
  const [conversation] = await sql<ConversationDetail[]>`
    select c.id, c.mode, c.channel, c.title, c.summary, c.created_at, c.last_activity_at,
           c.closed_at, c.user_id, u.email, u.phone
    from conversations c join users u on u.id = c.user_id where c.id = ${id}`;
  return conversation ?? null;
}

/** A message as the transcript shows it. */
export type TranscriptLine = Omit<MessageRow, "id" | "conversation_id" | "completed_at">;

/** A conversation's messages in order; limit + 1 rows. */
export async function conversationMessages(
  sql: Sql,
  id: string,
  page: Page,
): Promise<TranscriptLine[]> {
  return await sql<TranscriptLine[]>`
    select role, content, status, model, tokens_in, tokens_out, cost, latency_ms, ttft_ms,
           error_code, created_at
    from messages where conversation_id = ${id}
    order by created_at, id limit ${page.limit + 1} offset ${page.offset}`;
}
