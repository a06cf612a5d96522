/**
 * Linking a Telegram chat to an account. A signed-in user asks for a code on /account and sends
 * it to the bot (`/link CODE`, or the `t.me/<bot>?start=CODE` link, which sends `/start CODE`):
 * the chat it comes from is then that account's, with its wallet and its assistant.
 *
 * - A code is 8 characters of an alphabet without look-alikes (40 bits), lives 10 minutes, works
 *   once, and asking for a new one voids the previous. Only its HMAC under APP_SECRET is stored,
 *   so a database dump holds nothing to try.
 * - Guessing is bounded: a user may ask for 5 codes an hour, and a chat may try 5 codes in ten
 *   minutes (the caller counts the tries).
 * - One chat per account and one account per chat: linking again moves the link.
 */
import type { Sql } from "../db/mod.ts";
import type { Tx } from "../wallet/ledger.ts";
import { AppError } from "../errors.ts";
import { hmacHex } from "../security/tokens.ts";

export const LINK_CODE_TTL_MINUTES = 10;
export const LINK_CODES_PER_HOUR = 5;
const CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
const CODE_LENGTH = 8;

/** A code as typed: case, spaces and dashes ignored; null when it cannot be one. */
export function normaliseLinkCode(typed: string): string | null {
  const code = typed.toUpperCase().replace(/[\s-]+/g, "");
  return code.length === CODE_LENGTH && [...code].every((c) => CODE_ALPHABET.includes(c))
    ? code
    : null;
}

function randomCode(): string {
  let out = "";
  // 256 is a multiple of 32: every character equally likely.
  for (const byte of crypto.getRandomValues(new Uint8Array(CODE_LENGTH))) {
    out += CODE_ALPHABET[byte % CODE_ALPHABET.length];
  }
  return out;
}

const codeHash = (secret: string, code: string) => hmacHex(secret, `telegram-link:${code}`);

/** A new code for `userId` (the previous unused one stops working). */
export async function createLinkCode(
  sql: Sql,
  secret: string,
  userId: string,
): Promise<{ code: string; expiresAt: Date }> {
  const [recent] = await sql`select count(*)::int as n from telegram_link_codes
                             where user_id = ${userId} and created_at > now() - interval '1 hour'`;
  if (recent.n >= LINK_CODES_PER_HOUR) {
    throw new AppError(
      "rate_limited",
      "You asked for a lot of Telegram codes in the last hour. Try again later.",
      { retryAfterSeconds: 3600 },
    );
  }
  const code = randomCode();
  const [row] = await sql<{ expires_at: Date }[]>`
    with voided as (
      update telegram_link_codes set expires_at = now()
      where user_id = ${userId} and used_at is null and expires_at > now()
    )
    insert into telegram_link_codes (code_hash, user_id, expires_at)
    values (${await codeHash(secret, code)}, ${userId},
            now() + ${LINK_CODE_TTL_MINUTES} * interval '1 minute')
    returning expires_at`;
  return { code, expiresAt: row.expires_at };
}

export interface TelegramLink {
  chatId: number;
  userId: string;
  username: string | null;
  linkedAt: Date;
}

/** A `telegram_links` row (the columns a {@link TelegramLink} is read from). */
interface TelegramLinkRow {
  /** A bigint: postgres.js reads it as a string. */
  chat_id: string;
  user_id: string;
  username: string | null;
  linked_at: Date;
}

function toLink(row: TelegramLinkRow): TelegramLink {
  return {
    chatId: Number(row.chat_id),
    userId: row.user_id,
    username: row.username ?? null,
    linkedAt: row.linked_at,
  };
}

/**
 * Uses `code` for `chatId` (inside the caller's transaction): the chat becomes the account's,
 * replacing any link either had, with a fresh conversation state. Null when the code is not a
 * live one.
 */
export async function redeemLinkCode(
  tx: Tx,
  secret: string,
  input: { code: string; chatId: number; username: string | null; state: unknown },
): Promise<TelegramLink | null> {
  const code = normaliseLinkCode(input.code);
  if (!code) return null;
  const [used] = await tx`
    update telegram_link_codes set used_at = now()
    where code_hash = ${await codeHash(secret, code)} and used_at is null and expires_at > now()
    returning user_id`;
  if (!used) return null;
  // The account's other chat, if any, lets go first (one chat per account).
  await tx`delete from telegram_links where user_id = ${used.user_id} and chat_id <> ${input.chatId}`;
  const [row] = await tx<TelegramLinkRow[]>`
    insert into telegram_links (chat_id, user_id, username, state)
    values (${input.chatId}, ${used.user_id}, ${input.username},
            ${tx.json(input.state as never)})
    on conflict (chat_id) do update set user_id = excluded.user_id,
      username = excluded.username, state = excluded.state, linked_at = now(), updated_at = now()
    returning *`;
  return toLink(row);
}

export async function linkOfUser(sql: Sql, userId: string): Promise<TelegramLink | null> {
  const [row] = await sql<
    TelegramLinkRow[]
  >`select * from telegram_links where user_id = ${userId}`;
  return row ? toLink(row) : null;
}

/** Ends the link of `userId` (from /account); true if there was one. */
export async function unlinkUser(sql: Sql, userId: string): Promise<boolean> {
  const rows = await sql`delete from telegram_links where user_id = ${userId} returning chat_id`;
  return rows.length > 0;
}

/** Ends the link of `chatId` (the user sent /unlink); true if there was one. */
export async function unlinkChat(sql: Sql, chatId: number): Promise<boolean> {
  const rows = await sql`delete from telegram_links where chat_id = ${chatId} returning chat_id`;
  return rows.length > 0;
}
