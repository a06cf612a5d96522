/**
 * The WhatsApp channel's work outside the request: answering a phone's messages (the
 * `whatsapp.reply` job), telling users about payments and phone-link codes, and finding work
 * whose job was lost (the reconciler).
 *
 * Exactly one reply per inbound message: messages are stored once (unique provider id); one
 * worker per phone (a lease) takes them in arrival order; a message is marked answered in the
 * same transaction that records its reply and the new conversation state, and only a pending
 * message is ever answered. A worker that dies leaves the message pending: the reconciler
 * queues the phone again once the lease has expired.
 */
import type { Config } from "../config.ts";
import type { Database } from "../db/mod.ts";
import type { Enqueuer } from "../jobs/types.ts";
import type { Logger } from "../observability/log.ts";
import { findOrCreatePhoneUser, toUser, type User, type UserRow } from "../accounts/users.ts";
import { announceSignUp } from "../accounts/signed_up.ts";
import type { Payment, PaymentDeps } from "../payments/payments.ts";
import { hitRateLimit } from "../ratelimit.ts";
import {
  type BotContext,
  type BotInput,
  type ChatPort,
  type PaymentEvent,
  readSession,
  type Session,
  step,
} from "./bot/mod.ts";
import { text } from "./bot/flows/menu.ts";
import { DISABLED, SLOW_DOWN, SOMETHING_WRONG } from "./bot/texts.ts";
import { whatsappReplyJob } from "./jobs.ts";
import { Gate } from "./gate.ts";
import { acquireLease } from "./leases.ts";
import { storeMedia } from "./media.ts";
import {
  drainOutbox,
  kickSender,
  type Outgoing,
  outgoingParts,
  Pacer,
  recordOutgoing,
} from "./outbox.ts";
import type { InboundMessage, WhatsAppProvider } from "./types.ts";

const REPLY_LEASE_MS = 3 * 60_000;
/** Attempts at one message before it gets an apology instead of an answer. */
const MAX_REPLY_ATTEMPTS = 3;
/** Pending this long without a worker: the reconciler queues the phone again. */
const OVERDUE_SECONDS = 30;

export interface ChannelDeps {
  db: Database;
  kv: Deno.Kv;
  log: Logger;
  config: Config;
  provider: WhatsAppProvider;
  jobs: Enqueuer;
  chat: ChatPort;
  payments: () => PaymentDeps;
  pacer: Pacer;
  /** Where attachments are kept (`DATA_DIR/whatsapp-media`). */
  mediaDir: string;
  /** Chat memory's idle TTL; default 30 minutes. */
  chatIdleMs?: number;
  /** Background database work goes through this gate (see gate.ts). */
  gate: Gate;
  /**
   * Resolves when the webhook has nothing waiting to be written: background work lets the
   * webhook's writes go first (on the embedded database they share one connection).
   */
  ingestIdle?: () => Promise<void>;
  /** Longest wait for one AI answer; default 120 s. */
  answerTimeoutMs?: number;
  now?: () => number;
}

export function createPacer(config: Config): Pacer {
  return new Pacer(config.whatsapp.sendPerSecond);
}

/** A few background steps at a time on the embedded database's one session, more on a server. */
export function createGate(db: Database): Gate {
  return new Gate(db.kind === "embedded" ? 2 : 8);
}

/** `whatsapp.reply`: answers every pending message of `phone`, in order. */
export async function answerPhone(ch: ChannelDeps, phone: string): Promise<void> {
  const sql = ch.db.sql;
  for (let round = 0; round < 10; round++) {
    const lease = await acquireLease(ch.db, phone, "reply", REPLY_LEASE_MS);
    if (!lease) return;
    let again: boolean;
    let leasedAt = performance.now();
    try {
      for (;;) {
        await ch.ingestIdle?.();
        const [row] = await sql<InboundRow[]>`
          select id, phone, provider, message, attempts from whatsapp_inbound
          where phone = ${phone} and status = 'pending'
          order by seq limit 1`;
        if (!row) break;
        if (performance.now() - leasedAt > REPLY_LEASE_MS / 3) {
          await lease.renew();
          leasedAt = performance.now();
        }
        await ch.gate.run(() => answerOne(ch, row));
      }
    } finally {
      again = await lease.release();
    }
    // A message stored while we held the lease: its job found the lease taken and left.
    if (!again) return;
    const [more] = await sql`select 1 as x from whatsapp_inbound
                             where phone = ${phone} and status = 'pending' limit 1`;
    if (!more) return;
  }
}

/** `whatsapp.send`: sends what is queued for `phone`. */
export function sendToPhone(ch: ChannelDeps, phone: string): Promise<void> {
  return drainOutbox(ch, phone);
}

function toInput(message: InboundMessage, stored: boolean): BotInput {
  switch (message.type) {
    case "text":
      return { kind: "text", text: message.text.slice(0, 8_000) };
    case "button_reply":
      return { kind: "choice", id: message.buttonId, title: message.title };
    case "list_reply":
      return { kind: "choice", id: message.rowId, title: message.title };
    case "image":
    case "document":
    case "audio":
      return { kind: "media", mediaType: message.type, stored };
    case "location":
      return { kind: "other", what: "location" };
    case "unsupported":
      return { kind: "other", what: message.originalType };
  }
}

/** Whether this message is within the phone's per-minute allowance; the first one over gets a
 * "slow down" reply, the rest of that minute none. */
async function allowance(ch: ChannelDeps, phone: string): Promise<"ok" | "warn" | "silent"> {
  const decision = await hitRateLimit(
    ch.kv,
    ["whatsapp", phone],
    ch.config.whatsapp.userRatePerMinute,
  );
  if (decision.allowed) return "ok";
  const key = ["whatsapp", "slowdown", phone, Math.floor(Date.now() / 60_000)];
  const first = await ch.kv.atomic().check({ key, versionstamp: null })
    .set(key, true, { expireIn: 120_000 }).commit();
  return first.ok ? "warn" : "silent";
}

/**
 * A `whatsapp_inbound` row as the reply job reads it: a user's message as the webhook stored
 * it, or an event of ours (`provider = 'system'`, a settled payment).
 */
type InboundRow =
  & { id: string; phone: string; attempts: number }
  & (
    | { provider: "meta" | "twilio"; message: InboundMessage }
    | { provider: "system"; message: PaymentEvent }
  );

/** The phone's conversation state and, when linked, its user (a left join: all null if not). */
type StoredSession = { state: unknown } & (UserRow | { [K in keyof UserRow]: null });

async function answerOne(ch: ChannelDeps, row: InboundRow): Promise<void> {
  const sql = ch.db.sql;
  const { id, phone } = row;
  const event = row.provider === "system" ? row.message : null;
  const inbound = row.provider === "system" ? null : row.message;
  const [stored] = await sql<StoredSession[]>`
    select s.state, u.id, u.email, u.display_name, u.phone, u.role, u.tier, u.disabled_at,
           u.created_at
    from whatsapp_sessions s left join users u on u.id = s.user_id
    where s.phone = ${phone}`;
  let session: Session | null = stored ? readSession(stored.state) : null;

  let user: User | null = stored?.id ? toUser(stored) : null;
  if (!user) {
    const profileName = inbound?.profileName ?? null;
    const found = await findOrCreatePhoneUser(sql, phone, profileName);
    user = found.user;
    if (found.created) await announceSignUp(ch.db, ch.log, user.id, "whatsapp");
  }

  let replies: Outgoing[] = [];
  let status: "answered" | "skipped" | "failed" = "answered";
  let error: string | null = null;
  if (event) {
    const result = await step(botContext(ch, user, phone, id), session, { kind: "event", event });
    session = result.session;
    replies = result.replies;
  } else if (user.disabled) {
    replies = [text(DISABLED)];
  } else {
    const allowed = await allowance(ch, phone);
    if (allowed !== "ok") {
      ch.log.info("WhatsApp user over the rate limit", { phone, replied: allowed === "warn" });
      replies = allowed === "warn" ? [text(SLOW_DOWN)] : [];
      status = allowed === "warn" ? "answered" : "skipped";
    } else if (inbound) {
      // Read receipt and "typing…" while the answer is prepared; cosmetic, never blocking.
      ch.provider.markRead(inbound.id, { typing: true }).catch((e) =>
        ch.log.debug("mark-read failed", { error: e })
      );
      try {
        const mediaStored = "media" in inbound
          ? await storeMedia(ch, id, phone, inbound.media)
          : false;
        const result = await step(
          botContext(ch, user, phone, id),
          session,
          toInput(inbound, mediaStored),
        );
        session = result.session;
        replies = result.replies;
      } catch (cause) {
        const attempts = row.attempts + 1;
        const reason = cause instanceof Error ? cause.message : String(cause);
        await sql`update whatsapp_inbound set attempts = ${attempts}, error = ${reason}
                  where id = ${id}`;
        if (attempts < MAX_REPLY_ATTEMPTS) throw cause;
        ch.log.error("WhatsApp message could not be answered; apologising", {
          inboundId: id,
          phone,
          error: cause,
        });
        replies = [text(SOMETHING_WRONG)];
        status = "failed";
        error = reason;
      }
    }
  }

  const sentAt = inbound ? new Date(Math.min(inbound.timestamp, Date.now())) : null;
  // One statement (atomic like a transaction, one round trip): answered only if still pending,
  // with the new state and the reply recorded together.
  const state = session ?? readSession(null);
  const parts = outgoingParts(replies, ch.provider.textLimit);
  const [committed] = await sql`
    with claimed as (
      update whatsapp_inbound set status = ${status}, processed_at = now(),
        attempts = attempts + 1, error = ${error}
      where id = ${id} and status = 'pending' returning id
    ), saved as (
      insert into whatsapp_sessions (phone, user_id, state, last_inbound_at)
      select ${phone}, ${user.id}::uuid, ${sql.json(state as never)}::jsonb,
             ${sentAt}::timestamptz
      from claimed
      on conflict (phone) do update set
        user_id = excluded.user_id, state = excluded.state, updated_at = now(),
        last_inbound_at = greatest(whatsapp_sessions.last_inbound_at, excluded.last_inbound_at)
      returning 1
    ), recorded as (
      insert into whatsapp_outbound (phone, inbound_id, part, kind, message, template)
      select ${phone}, claimed.id, r.part, ${event ? "notice" : "reply"}, r.message, r.template
      from claimed, jsonb_to_recordset(${sql.json(parts as never)}::jsonb)
        as r(part integer, message jsonb, template jsonb)
      on conflict (inbound_id, part) do nothing
      returning 1
    )
    select count(*)::int as n from claimed`;
  if (committed.n > 0 && replies.length > 0) await kickSender(ch.jobs, phone);
}

function botContext(ch: ChannelDeps, user: User, phone: string, inboundId: string): BotContext {
  const template = ch.config.whatsapp.templates.payment;
  return {
    deps: {
      db: ch.db,
      log: ch.log,
      // The AI is slow: its wait happens outside the gate.
      chat: {
        answerOnce: (input) => ch.gate.outside(() => ch.chat.answerOnce(input)),
        resetConversation: (userId, on) => ch.chat.resetConversation(userId, on),
      },
      payments: ch.payments,
      chatIdleMs: ch.chatIdleMs ?? 30 * 60_000,
      answerTimeoutMs: ch.answerTimeoutMs ?? 120_000,
      now: ch.now ?? Date.now,
      ...(template
        ? { paymentTemplate: { name: template, language: ch.config.whatsapp.templates.language } }
        : {}),
    },
    user,
    phone,
    inboundId,
  };
}

/**
 * Tells the user about a settled payment (PaymentDeps.notifyWhatsApp): recorded as an event in
 * the phone's inbound stream, so the conversation reacts to it in order with what the user
 * sends, once however often the payment is announced. Paid: every user with a linked phone.
 * Cancelled, failed, expired: payments started on WhatsApp.
 */
export async function notifyPayment(
  ch: Pick<ChannelDeps, "db" | "jobs" | "log">,
  payment: Payment,
  balance: number | null,
): Promise<void> {
  const paid = payment.status === "paid";
  if (paid && balance === null) return; // flagged, not credited
  if (!paid && payment.channel !== "whatsapp") return;
  if (!["paid", "cancelled", "failed", "expired"].includes(payment.status)) return;
  const sql = ch.db.sql;
  const [user] = await sql<{ phone: string | null }[]>`
    select phone from users where id = ${payment.userId}`;
  const phone = user?.phone;
  if (!phone) return;
  const event: PaymentEvent = {
    type: "payment",
    paymentId: payment.id,
    status: payment.status as PaymentEvent["status"],
    tokens: payment.tokens,
    amount: payment.amount,
    currency: payment.currency,
    balance,
  };
  const rows = await sql`
    insert into whatsapp_inbound (provider, provider_message_id, phone, type, message)
    values ('system', ${`payment:${payment.id}:${payment.status}`}, ${phone}, 'payment',
            ${sql.json(event as never)})
    on conflict (provider_message_id) do nothing returning id`;
  if (rows.length > 0) await ch.jobs.enqueue(whatsappReplyJob, { phone });
}

/** Sends a phone-linking code (outside the 24-hour window only through the code template). */
export async function sendPhoneCode(
  ch: Pick<ChannelDeps, "db" | "jobs" | "config" | "provider">,
  phone: string,
  code: string,
): Promise<void> {
  const templates = ch.config.whatsapp.templates;
  await ch.db.sql.begin((tx) =>
    recordOutgoing(tx, phone, [{
      message: {
        type: "text",
        text: `Your Hurukuro code is *${code}*. It expires in 10 minutes. ` +
          "If you did not ask for it, ignore this message.",
      },
      ...(templates.code
        ? {
          template: {
            type: "template",
            name: templates.code,
            language: templates.language,
            parameters: [code],
          },
        }
        : {}),
    }], { kind: "code", textLimit: ch.provider.textLimit })
  );
  await kickSender(ch.jobs, phone);
}

/** Reconciler: phones with messages pending too long and no live worker. */
export async function overdueReplies(db: Database): Promise<string[]> {
  const rows = await db.sql<{ phone: string }[]>`
    select distinct i.phone from whatsapp_inbound i
    where i.status = 'pending' and i.received_at < now() - ${OVERDUE_SECONDS} * interval '1 second'
      and not exists (select 1 from whatsapp_leases l
                      where l.phone = i.phone and l.kind = 'reply' and l.leased_until > now())
    limit 500`;
  return rows.map((r) => r.phone);
}

/** Reconciler: phones with messages queued too long and no live sender. */
export async function overdueSends(db: Database): Promise<string[]> {
  const rows = await db.sql<{ phone: string }[]>`
    select distinct o.phone from whatsapp_outbound o
    where o.status = 'queued'
      and coalesce(o.not_before, o.created_at) < now() - ${OVERDUE_SECONDS} * interval '1 second'
      and not exists (select 1 from whatsapp_leases l
                      where l.phone = o.phone and l.kind = 'send' and l.leased_until > now())
    limit 500`;
  return rows.map((r) => r.phone);
}

/** Deletes webhook log rows older than `days`; returns how many. */
export async function pruneWebhookLog(db: Database, days: number): Promise<number> {
  const [{ n }] = await db.sql<{ n: number }[]>`
    with gone as (delete from whatsapp_webhook_log
                  where received_at < now() - ${days} * interval '1 day' returning 1)
    select count(*)::int as n from gone`;
  return n;
}
