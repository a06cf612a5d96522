/**
 * `telegram.reply`: answers a chat's updates, one at a time, in the order Telegram numbered
 * them. Exactly one answer per update:
 *
 * - a worker *claims* the oldest open update of the chat (`working`, with a lease, `attempts`
 *   raised) only when no live worker holds it, so one worker at a time works on a chat;
 * - the answer is committed in one statement that closes the update (only if this worker's claim
 *   still holds: `attempts` fences a worker whose lease ran out), saves the conversation state and
 *   records the messages to send; only then is the send job queued;
 * - a failed attempt puts the update back (`pending`) for the job's retry; the last attempt
 *   apologises instead, so one broken update never holds up the chat's next ones.
 *
 * An unlinked chat is told how to link; `/link CODE` (or `/start CODE` from a t.me link) links
 * it, and the conversation is the WhatsApp bot's (conversation.ts).
 */
import { toUser, type User, type UserRow } from "../accounts/users.ts";
import type { Database } from "../db/mod.ts";
import { maskEmail, maskPhone } from "../observability/mask.ts";
import type { Tx } from "../wallet/ledger.ts";
import { text } from "../whatsapp/bot/flows/menu.ts";
import { type BotInput, NEW_SESSION, readSession, type Session } from "../whatsapp/bot/mod.ts";
import { DISABLED, SLOW_DOWN, SOMETHING_WRONG } from "../whatsapp/bot/texts.ts";
import type { Outgoing } from "../whatsapp/outbox.ts";
import { type TelegramContext, telegramMenu, telegramStep } from "./conversation.ts";
import { telegramMessages } from "./format.ts";
import { telegramReplyJob, telegramSendJob } from "./jobs.ts";
import { redeemLinkCode, unlinkChat } from "./links.ts";
import {
  maskChatId,
  type StoredInput,
  type TelegramUpdatesRow,
  toUpdate,
  type UpdateRow,
} from "./model.ts";
import type { TelegramChannel } from "./mod.ts";
import { HOW_TO_LINK, LINK_REFUSED, LINK_TOO_MANY, LINKED, UNLINKED } from "./texts.ts";

/** Longer than the longest AI answer we wait for (120 s). */
const REPLY_LEASE_SECONDS = 180;
/** Claims of one update before it is apologised for instead of answered. */
export const MAX_REPLY_ATTEMPTS = 3;
/** Open this long without a live worker: the reconciler queues the chat again. */
const OVERDUE_SECONDS = 30;
/** Messages a minute one chat may send before a "slow down". */
const CHAT_RATE_PER_MINUTE = 20;
/** Link codes one chat may try in ten minutes. */
const LINK_TRIES = 5;

/** Answers every open update of `chatId`, in order. */
export async function answerChat(t: TelegramChannel, chatId: number): Promise<void> {
  for (let n = 0; n < 100; n++) {
    const row = await claimNext(t.db, chatId);
    if (!row) return;
    try {
      await answerUpdate(t, row);
    } catch (error) {
      // Retried by the job; after its last attempt the update fails alone.
      if (!(await gaveUp(t, row, error))) throw error;
    }
  }
  // A long backlog: the rest in a job of its own, so this one ends.
  await t.jobs.enqueue(telegramReplyJob, { chatId });
}

async function claimNext(db: Database, chatId: number): Promise<UpdateRow | null> {
  const [row] = await db.sql<TelegramUpdatesRow[]>`
    update telegram_updates set status = 'working', attempts = attempts + 1,
      leased_until = now() + ${REPLY_LEASE_SECONDS} * interval '1 second'
    where update_id = (select update_id from telegram_updates
                       where chat_id = ${chatId} and status in ('pending', 'working')
                       order by update_id limit 1)
      and (status = 'pending' or leased_until < now())
    returning *`;
  return row ? toUpdate(row) : null;
}

/** Puts a failed attempt back, or closes the update once it has had its attempts. */
async function gaveUp(t: TelegramChannel, row: UpdateRow, cause: unknown): Promise<boolean> {
  const reason = (cause instanceof Error ? cause.message : String(cause)).slice(0, 2_000);
  const [counted] = await t.db.sql`
    update telegram_updates set error = ${reason}, leased_until = null,
      status = case when attempts >= ${MAX_REPLY_ATTEMPTS} then 'failed' else 'pending' end,
      processed_at = case when attempts >= ${MAX_REPLY_ATTEMPTS} then now() end
    where update_id = ${row.updateId} and status = 'working' and attempts = ${row.attempts}
    returning status`;
  if (counted?.status !== "failed") return false;
  t.log.error("Telegram update could not be answered; the next ones go ahead", {
    updateId: row.updateId,
    chatId: maskChatId(row.chatId),
    attempts: row.attempts,
    error: cause,
  });
  return true;
}

interface Outcome {
  replies: Outgoing[];
  status: "answered" | "skipped" | "failed";
  error?: string;
  /** The linked account's conversation state to keep. */
  session?: { userId: string; state: Session };
}

/** `/link CODE`, `/start CODE`: the code ("" for `/link` alone); undefined for anything else. */
function linkCodeOf(input: StoredInput): string | undefined {
  if (input.kind !== "text") return undefined;
  const m = /^\s*\/(link|start)(?:@[A-Za-z0-9_]+)?(?:\s+(.*))?$/s.exec(input.text);
  if (!m) return undefined;
  const code = (m[2] ?? "").trim().slice(0, 64);
  return m[1] === "start" && !code ? undefined : code;
}

const isUnlink = (input: StoredInput) =>
  input.kind === "text" && /^\s*\/unlink(@[A-Za-z0-9_]+)?\s*$/.test(input.text);

async function linkedUser(db: Database, chatId: number) {
  const [row] = await db.sql<(UserRow & { state: unknown })[]>`
    select l.state, u.id, u.email, u.display_name, u.phone, u.role, u.tier, u.disabled_at,
           u.created_at
    from telegram_links l join users u on u.id = l.user_id where l.chat_id = ${chatId}`;
  return row ? { user: toUser(row), session: row.state ? readSession(row.state) : null } : null;
}

/**
 * Whether this message is within the chat's allowance: the first one over gets a "slow down",
 * the rest of that minute nothing.
 */
async function allowance(t: TelegramChannel, chatId: number): Promise<"ok" | "warn" | "silent"> {
  const decision = await t.rateLimiter.hit(["telegram", String(chatId)], CHAT_RATE_PER_MINUTE);
  if (decision.allowed) return "ok";
  const key = ["telegram", "slowdown", String(chatId), Math.floor(Date.now() / 60_000)];
  const first = await t.kv.atomic().check({ key, versionstamp: null })
    .set(key, true, { expireIn: 120_000 }).commit();
  return first.ok ? "warn" : "silent";
}

/** How the account is named to the chat that linked it: enough to recognise, nothing more. */
const whoIs = (user: User) =>
  user.displayName ??
    (user.email ? maskEmail(user.email) : user.phone ? maskPhone(user.phone) : null);

async function answerUpdate(t: TelegramChannel, row: UpdateRow): Promise<void> {
  const allowed = await allowance(t, row.chatId);
  if (allowed !== "ok") {
    t.log.info("Telegram chat over the rate limit", {
      chatId: maskChatId(row.chatId),
      replied: allowed === "warn",
    });
    const replies = allowed === "warn" ? [text(SLOW_DOWN)] : [];
    return await finish(t, row, { replies, status: allowed === "warn" ? "answered" : "skipped" });
  }
  const code = linkCodeOf(row.input);
  if (code !== undefined) return await link(t, row, code);
  const linked = await linkedUser(t.db, row.chatId);
  if (!linked) {
    return await finish(t, row, {
      replies: [text(HOW_TO_LINK(t.publicUrl()))],
      status: "answered",
    });
  }
  const { user } = linked;
  if (isUnlink(row.input)) {
    await unlinkChat(t.db.sql, row.chatId);
    await t.chat.resetConversation(user.id, "telegram");
    t.log.info("Telegram chat unlinked by its user", { userId: user.id });
    return await finish(t, row, { replies: [text(UNLINKED)], status: "answered" });
  }
  if (user.disabled) return await finish(t, row, { replies: [text(DISABLED)], status: "answered" });

  const ctx: TelegramContext = {
    deps: {
      db: t.db,
      log: t.log,
      chat: t.chat,
      payments: t.payments,
      chatIdleMs: t.chatIdleMs,
      answerTimeoutMs: t.answerTimeoutMs,
      now: t.now,
    },
    user,
    channel: "telegram",
    phone: user.phone ?? "",
    inboundId: String(row.updateId),
    publicUrl: t.publicUrl(),
  };
  const input: BotInput = row.input.kind === "text"
    ? { kind: "text", text: row.input.text }
    : { kind: "other", what: row.input.what };
  try {
    const step = await telegramStep(ctx, linked.session, input);
    await finish(t, row, {
      replies: step.replies,
      status: "answered",
      session: { userId: user.id, state: step.session },
    });
  } catch (cause) {
    // Counted by answerChat; the last attempt apologises instead.
    if (row.attempts < MAX_REPLY_ATTEMPTS) throw cause;
    t.log.error("Telegram update could not be answered; apologising", {
      updateId: row.updateId,
      chatId: maskChatId(row.chatId),
      error: cause,
    });
    const error = (cause instanceof Error ? cause.message : String(cause)).slice(0, 2_000);
    await finish(t, row, { replies: [text(SOMETHING_WRONG)], status: "failed", error });
  }
}

/** `/link CODE`: the chat becomes the code's account, and the update is closed, together. */
async function link(t: TelegramChannel, row: UpdateRow, code: string): Promise<void> {
  const url = t.publicUrl();
  if (!code) return await finish(t, row, { replies: [text(HOW_TO_LINK(url))], status: "answered" });
  const tries = await t.rateLimiter.hit(
    ["telegram", "link", String(row.chatId)],
    LINK_TRIES,
    10 * 60_000,
  );
  if (!tries.allowed) {
    return await finish(t, row, { replies: [text(LINK_TOO_MANY)], status: "answered" });
  }
  const linkedTo = await t.db.sql.begin(async (tx) => {
    const link = await redeemLinkCode(tx, t.codeSecret, {
      code,
      chatId: row.chatId,
      username: row.username,
      state: NEW_SESSION,
    });
    const [owner] = link
      ? await tx<
        UserRow[]
      >`select id, email, display_name, phone, role, tier, disabled_at, created_at
                 from users where id = ${link.userId}`
      : [];
    const replies = owner
      ? [text(LINKED(whoIs(toUser(owner)))), telegramMenu()]
      : [text(LINK_REFUSED(url))];
    const committed = await commit(tx, row, { replies, status: "answered" });
    // A claim lost meanwhile: nothing of this is kept (another worker answers the update).
    if (!committed) throw new LeaseLost();
    return owner ? (owner.id as string) : null;
  }).catch((error) => {
    if (error instanceof LeaseLost) return undefined;
    throw error;
  });
  if (linkedTo === undefined) return;
  if (linkedTo) {
    // The chat starts afresh, whatever Telegram conversation the account had open.
    await t.chat.resetConversation(linkedTo, "telegram");
    t.log.info("Telegram chat linked", { userId: linkedTo, chatId: maskChatId(row.chatId) });
  }
  await t.jobs.enqueue(telegramSendJob, { chatId: row.chatId });
}

class LeaseLost extends Error {
  override name = "LeaseLost";
}

/** Commits an outcome and queues the send job if there is something to send. */
async function finish(t: TelegramChannel, row: UpdateRow, outcome: Outcome): Promise<void> {
  const committed = await commit(t.db.sql, row, outcome);
  if (!committed) {
    t.log.warn("Telegram update was taken over by another worker; its answer is dropped", {
      updateId: row.updateId,
    });
    return;
  }
  if (outcome.replies.length > 0) await t.jobs.enqueue(telegramSendJob, { chatId: row.chatId });
}

/**
 * One statement (atomic, one round trip): the update closed only if this worker's claim still
 * holds, the state saved and the messages recorded with it. True when it was this worker's.
 */
async function commit(sql: Tx, row: UpdateRow, outcome: Outcome): Promise<boolean> {
  const parts = telegramMessages(outcome.replies).map((message, part) => ({ part, message }));
  const session = outcome.session;
  const [done] = await sql`
    with claimed as (
      update telegram_updates set status = ${outcome.status}, processed_at = now(),
        leased_until = null, error = ${outcome.error ?? null}
      where update_id = ${row.updateId} and status = 'working' and attempts = ${row.attempts}
      returning update_id
    ), saved as (
      update telegram_links set state = ${sql.json((session?.state ?? null) as never)}::jsonb,
        updated_at = now()
      where chat_id = ${row.chatId} and user_id = ${session?.userId ?? null}::uuid
        and exists (select 1 from claimed)
      returning 1
    ), recorded as (
      insert into telegram_outbound (chat_id, update_id, part, message)
      select ${row.chatId}, claimed.update_id, r.part, r.message
      from claimed, jsonb_to_recordset(${sql.json(parts as never)}::jsonb)
        as r(part integer, message jsonb)
      on conflict (update_id, part) do nothing
      returning 1
    )
    select count(*)::int as n from claimed`;
  return done.n > 0;
}

/** Reconciler: chats with updates open too long and no live worker. */
export async function overdueReplies(db: Database): Promise<number[]> {
  const rows = await db.sql`
    select distinct chat_id from telegram_updates
    where status in ('pending', 'working')
      and (status = 'pending' or leased_until < now())
      and received_at < now() - ${OVERDUE_SECONDS} * interval '1 second'
    limit 500`;
  return rows.map((r) => Number(r.chat_id));
}

/** Deletes updates (and their messages) older than `days` that are closed; returns how many. */
export async function pruneUpdates(db: Database, days: number): Promise<number> {
  const [{ n }] = await db.sql`
    with gone as (
      delete from telegram_updates
      where received_at < now() - ${days} * interval '1 day'
        and status in ('answered', 'skipped', 'failed')
      returning 1
    ), codes as (
      delete from telegram_link_codes where expires_at < now() - interval '1 day'
    )
    select count(*)::int as n from gone`;
  return n as number;
}
