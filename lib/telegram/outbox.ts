/**
 * `telegram.send`: sends a chat's queued messages in order (recorded with the answer that made
 * them, reply.ts), each once:
 *
 * - a worker claims the chat's oldest open message (`sending`, with a lease) only when no live
 *   worker holds it, so parts of an answer never overtake each other;
 * - a sent message is recorded at once, before the worker waits for anything: the Bot API has
 *   no idempotency key, so only a crash between Telegram's answer and that write sends one
 *   again (its lease runs out and the reconciler hands it on);
 * - a 429 waits `parameters.retry_after`, a 5xx or a network failure backs off, short waits
 *   inside the job and longer ones as a delayed job (later messages wait behind); a refusal no
 *   retry can change (blocked by the user, chat not found) fails the message alone. HTML that
 *   Telegram cannot parse goes again as the plain text it shows.
 */
import type { Database } from "../db/mod.ts";
import { TelegramError } from "./client.ts";
import { telegramHtmlToPlain } from "./format.ts";
import { telegramSendJob } from "./jobs.ts";
import { maskChatId, type OutboundRow, type TelegramOutboundRow, toOutbound } from "./model.ts";
import type { TelegramChannel } from "./mod.ts";

const SEND_LEASE_SECONDS = 120;
export const MAX_SEND_ATTEMPTS = 6;
/** Retry waits up to this long happen inside the job; longer ones are a delayed job. */
const INLINE_WAIT_MS = 3_000;
/** Open this long without a live worker: the reconciler queues the chat again. */
const OVERDUE_SECONDS = 30;

/** Sends everything queued for `chatId`; a wait beyond the inline one is a delayed job. */
export async function sendChat(t: TelegramChannel, chatId: number): Promise<void> {
  for (let n = 0; n < 200; n++) {
    const row = await claimHead(t.db, chatId);
    if (!row) {
      const waitMs = await headWait(t.db, chatId);
      if (waitMs !== null) await t.jobs.enqueue(telegramSendJob, { chatId }, { delay: waitMs });
      return;
    }
    const retryInMs = await sendOne(t, row);
    if (retryInMs === null) continue;
    if (retryInMs > INLINE_WAIT_MS) {
      await t.jobs.enqueue(telegramSendJob, { chatId }, { delay: retryInMs });
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, retryInMs));
  }
  await t.jobs.enqueue(telegramSendJob, { chatId });
}

async function claimHead(db: Database, chatId: number): Promise<OutboundRow | null> {
  const [row] = await db.sql<TelegramOutboundRow[]>`
    update telegram_outbound set status = 'sending', attempts = attempts + 1,
      leased_until = now() + ${SEND_LEASE_SECONDS} * interval '1 second'
    where id = (select id from telegram_outbound
                where chat_id = ${chatId} and status in ('queued', 'sending')
                order by id limit 1)
      and ((status = 'queued' and (not_before is null or not_before <= now()))
           or (status = 'sending' and leased_until < now()))
    returning *`;
  return row ? toOutbound(row) : null;
}

/** Milliseconds until the chat's next message may go, when it waits for a retry; else null. */
async function headWait(db: Database, chatId: number): Promise<number | null> {
  const [head] = await db.sql`
    select status, ceil(extract(epoch from (not_before - now())) * 1000)::int as wait_ms
    from telegram_outbound
    where chat_id = ${chatId} and status in ('queued', 'sending')
    order by id limit 1`;
  if (head?.status !== "queued" || !(head.wait_ms > 0)) return null;
  return head.wait_ms as number;
}

/** Sends one claimed message; null when done with it, else the wait before it goes again. */
async function sendOne(t: TelegramChannel, row: OutboundRow): Promise<number | null> {
  const sql = t.db.sql;
  // Only while this worker's claim holds (`attempts` fences a worker whose lease ran out).
  const mine = () => sql`id = ${row.id} and status = 'sending' and attempts = ${row.attempts}`;
  let sent;
  try {
    sent = await t.client.sendMessage({ chat_id: row.chatId, ...row.message });
  } catch (error) {
    if (!(error instanceof TelegramError)) {
      await sql`update telegram_outbound set status = 'queued', leased_until = null
                where ${mine()}`;
      throw error;
    }
    const f = error.failure;
    if (row.message.parse_mode && /can't parse entities/i.test(f.description ?? "")) {
      const plain = { text: telegramHtmlToPlain(row.message.text) };
      t.log.warn("Telegram refused our HTML; sending the plain text", {
        outboundId: row.id,
        description: f.description,
      });
      await sql`update telegram_outbound set status = 'queued', leased_until = null,
                  message = ${sql.json(plain as never)}, error = ${error.message}
                where ${mine()}`;
      return 0;
    }
    if (!f.retryable || row.attempts >= MAX_SEND_ATTEMPTS) {
      await sql`update telegram_outbound set status = 'failed', leased_until = null,
                  error = ${error.message} where ${mine()}`;
      // A user who blocked the bot is their choice, not our failure.
      const log = f.errorCode === 403 ? t.log.warn : t.log.error;
      log("Telegram message could not be sent", {
        outboundId: row.id,
        chatId: maskChatId(row.chatId),
        attempts: row.attempts,
        error: error.message,
      });
      return null;
    }
    const waitMs = f.retryAfterSeconds
      ? f.retryAfterSeconds * 1000
      : Math.min(60_000, 500 * 2 ** row.attempts);
    await sql`update telegram_outbound set status = 'queued', leased_until = null,
                not_before = now() + ${waitMs} * interval '1 millisecond', error = ${error.message}
              where ${mine()}`;
    t.log.warn("Telegram send failed, will retry", {
      outboundId: row.id,
      chatId: maskChatId(row.chatId),
      attempts: row.attempts,
      retryInMs: waitMs,
    });
    return waitMs;
  }
  await sql`update telegram_outbound set status = 'sent', sent_at = now(), leased_until = null,
              telegram_message_id = ${sent.message_id}, error = null
            where id = ${row.id}`;
  return null;
}

/** Reconciler: chats with messages waiting too long and no live sender. */
export async function overdueSends(db: Database): Promise<number[]> {
  const rows = await db.sql`
    select distinct chat_id from telegram_outbound
    where (status = 'queued'
           and coalesce(not_before, created_at) < now() - ${OVERDUE_SECONDS} * interval '1 second')
       or (status = 'sending' and leased_until < now())
    limit 500`;
  return rows.map((r) => Number(r.chat_id));
}
