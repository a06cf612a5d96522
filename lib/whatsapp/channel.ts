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
import { join } from "node:path";
import type { Config } from "../config.ts";
import type { Database } from "../db/mod.ts";
import { LEASE_MS, whileRenewing } from "../jobs/lease.ts";
import type { Enqueuer } from "../jobs/types.ts";
import type { Instances } from "../instances.ts";
import type { Logger } from "../observability/log.ts";
import {
  findOrCreatePhoneUser,
  toUser,
  type User,
  userColumns,
  type UserRow,
} from "../accounts/users.ts";
import { announceSignUp } from "../accounts/signed_up.ts";
import type { HubEvent } from "../events.ts";
import { type PaymentSettled, paymentSettledOf } from "../payments/events.ts";
import type { Payments } from "../payments/model.ts";
import {
  type BotContext,
  type BotInput,
  type ChatPort,
  type GrievancePort,
  type PaymentEvent,
  readSession,
  type Session,
  step,
} from "./bot/mod.ts";
import { text } from "./bot/flows/menu.ts";
import { DISABLED, SLOW_DOWN, SOMETHING_WRONG } from "./bot/texts.ts";
import { whatsappReplyJob } from "./jobs.ts";
import { allowanceFor, earlierInMinute } from "./allowance.ts";
import { Gate } from "./gate.ts";
import { createLeases, type Leases } from "./leases.ts";
import { type MediaOutcome, storeMedia } from "./media.ts";
import {
  drainOutbox,
  kickSender,
  type Outgoing,
  outgoingParts,
  Pacer,
  recordOutgoing,
} from "./outbox.ts";
import { believableTime, type InboundMessage, type WhatsAppProvider } from "./types.ts";

/** Attempts at one message before it gets an apology instead of an answer. */
const MAX_REPLY_ATTEMPTS = 3;

export interface ChannelDeps {
  db: Database;
  log: Logger;
  config: Config;
  provider: WhatsAppProvider;
  jobs: Enqueuer;
  chat: ChatPort;
  payments: Payments;
  /** One worker per phone answers, one sends. */
  leases: Leases;
  pacer: Pacer;
  /** Where attachments are kept (`UPLOADS_DIR/whatsapp-media`: every instance reads them). */
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
  /** Grievance intake for "Report a problem" (lib/grievances/whatsapp.ts). */
  grievances?: GrievancePort;
}

/**
 * The WhatsApp channel of one app instance, with the state it owns: the send pacing, the gate
 * in front of the database (a few background steps at a time on the embedded database's one
 * session, more on a server) and the phone leases.
 *
 * @example
 * const whatsapp = createWhatsAppChannel({ db, log, config, provider, jobs: queue, chat,
 *   payments, ingestIdle: () => webhooks.idle() });
 * events.observe((event) => void reactToEvent(whatsapp, event));
 */
export function createWhatsAppChannel(
  deps: Omit<ChannelDeps, "pacer" | "gate" | "leases" | "mediaDir"> & {
    mediaDir?: string;
    /** The instances sharing the business number's send rate (lib/instances.ts). */
    instances?: Pick<Instances, "count">;
  },
): ChannelDeps {
  const { instances, ...rest } = deps;
  return {
    ...rest,
    pacer: new Pacer(deps.config.whatsapp.sendPerSecond, 250, () => instances?.count() ?? 1),
    gate: new Gate(deps.db.kind === "embedded" ? 2 : 8),
    leases: createLeases(deps.db),
    mediaDir: deps.mediaDir ?? join(deps.config.uploadsDir, "whatsapp-media"),
  };
}

/** `whatsapp.reply`: answers every pending message of `phone`, in order. */
export async function answerPhone(ch: ChannelDeps, phone: string): Promise<void> {
  const sql = ch.db.sql;
  for (let round = 0; round < 10; round++) {
    const lease = await ch.leases.acquire(phone, "reply", LEASE_MS);
    if (!lease) return;
    let again: boolean;
    try {
      // Renewed while answering (an AI answer may take minutes): if this worker dies, the
      // phone is free again within LEASE_MS.
      await whileRenewing(() => lease.renew(), async () => {
        for (;;) {
          await ch.ingestIdle?.();
          const pending = await nextPending(ch, phone);
          if (!pending) break;
          try {
            const done = await ch.gate.run(() => answerOne(ch, pending));
            // The sender is queued after the gate is left: a KV commit holds no database slot.
            if (done.toSend) await kickSender(ch.jobs, phone);
            // Nothing else was pending as it committed; what came since is found on release.
            if (!done.more) break;
          } catch (error) {
            // Retried by the job, in order; after its last attempt the message fails alone and
            // the phone's next message is answered.
            if (!(await gaveUp(ch, pending.row, error))) throw error;
          }
        }
      }, { log: ch.log, what: "whatsapp.reply" });
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

/**
 * Counts a failed attempt at answering `row`; true once it has had its attempts, and is closed
 * as failed (logged) so that it no longer holds up the messages behind it.
 */
async function gaveUp(ch: ChannelDeps, row: InboundRow, cause: unknown) {
  const reason = (cause instanceof Error ? cause.message : String(cause)).slice(0, 2_000);
  const [counted] = await ch.db.sql<{ status: string }[]>`
    update whatsapp_inbound set attempts = attempts + 1, error = ${reason},
      status = case when attempts + 1 >= ${MAX_REPLY_ATTEMPTS} then 'failed' else status end,
      processed_at = case when attempts + 1 >= ${MAX_REPLY_ATTEMPTS} then now() end
    where id = ${row.id} and status = 'pending'
    returning status`;
  if (counted?.status !== "failed") return false;
  ch.log.error("WhatsApp message could not be answered; the next ones go ahead", {
    inboundId: row.id,
    phone: row.phone,
    attempts: MAX_REPLY_ATTEMPTS,
    error: cause,
  });
  return true;
}

/** `whatsapp.send`: sends what is queued for `phone`. */
export function sendToPhone(ch: ChannelDeps, phone: string): Promise<void> {
  return drainOutbox(ch, phone);
}

function toInput(message: InboundMessage, media: MediaOutcome | null): BotInput {
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
      return {
        kind: "media",
        mediaType: message.type,
        stored: media?.stored ?? false,
        ...(media && !media.stored ? { refused: media.reason, mimeType: media.mimeType } : {}),
      };
    case "location":
      return {
        kind: "location",
        latitude: message.latitude,
        longitude: message.longitude,
        ...(message.name ? { name: message.name } : {}),
        ...(message.address ? { address: message.address } : {}),
      };
    case "unsupported":
      return { kind: "other", what: message.originalType };
  }
}

/**
 * A `whatsapp_inbound` row as the reply job reads it: a user's message as the webhook stored
 * it, or an event of ours (`provider = 'system'`, a settled payment).
 */
type InboundRow =
  & { id: string; phone: string; attempts: number; seq: string; received_at: Date }
  & (
    | { provider: "meta" | "twilio"; message: InboundMessage }
    | { provider: "system"; message: PaymentEvent }
  );

/** A pending message with what answering it needs: the conversation as it stands, the user. */
interface Pending {
  row: InboundRow;
  /** The phone's conversation state; null before its first message. */
  state: unknown;
  /** The user the phone is linked to, if it is. */
  user: User | null;
  /** The phone's messages before this one in its minute (the allowance). */
  earlier: number;
}

/**
 * The phone's next pending message, its conversation state, linked user and allowance count,
 * in one read (the state and user through left joins: null before the first message).
 */
async function nextPending(ch: ChannelDeps, phone: string): Promise<Pending | null> {
  const sql = ch.db.sql;
  const [found] = await sql<
    (
      & { inbound_id: string; message: unknown; state: unknown; earlier: number }
      & Omit<InboundRow, "id" | "message">
      & (UserRow | { [K in keyof UserRow]: null })
    )[]
  >`
    select i.id as inbound_id, i.provider, i.message, i.attempts, i.seq, i.received_at,
           ${earlierInMinute(sql)} as earlier, s.state,
           ${sql.unsafe(userColumns("u"))}
    from whatsapp_inbound i
    left join whatsapp_sessions s on s.phone = i.phone
    left join users u on u.id = s.user_id
    where i.phone = ${phone} and i.status = 'pending'
    order by i.seq limit 1`;
  if (!found) return null;
  return {
    row: {
      id: found.inbound_id,
      phone,
      provider: found.provider,
      message: found.message,
      attempts: found.attempts,
      seq: found.seq,
      received_at: found.received_at,
    } as InboundRow,
    state: found.state,
    user: found.id ? toUser(found as UserRow) : null,
    earlier: found.earlier,
  };
}

/**
 * Answers one message. `toSend`: replies were recorded for the sender; `more`: another message
 * of the phone was pending when this one was recorded.
 */
async function answerOne(
  ch: ChannelDeps,
  pending: Pending,
): Promise<{ toSend: boolean; more: boolean }> {
  const sql = ch.db.sql;
  const { row } = pending;
  const { id, phone } = row;
  const event = row.provider === "system" ? row.message : null;
  const inbound = row.provider === "system" ? null : row.message;
  let session: Session | null = pending.state === null ? null : readSession(pending.state);

  let user = pending.user;
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
    const allowed = allowanceFor(pending.earlier, ch.config.whatsapp.userRatePerMinute);
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
        const media = "media" in inbound ? await storeMedia(ch, id, phone, inbound.media) : null;
        const result = await step(
          botContext(ch, user, phone, id),
          session,
          toInput(inbound, media),
        );
        session = result.session;
        replies = result.replies;
      } catch (cause) {
        // Counted by answerPhone; the last attempt apologises instead.
        if (row.attempts + 1 < MAX_REPLY_ATTEMPTS) throw cause;
        const reason = cause instanceof Error ? cause.message : String(cause);
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

  // A time stored by an older version may be anything; the window opens at a believable one.
  const sentAt = inbound
    ? new Date(Math.min(believableTime(inbound.timestamp, Date.now()) ?? Date.now(), Date.now()))
    : null;
  // One statement (atomic like a transaction, one round trip): answered only if still pending,
  // with the new state and the reply recorded together.
  const state = session ?? readSession(null);
  const parts = outgoingParts(replies, ch.provider.textLimit);
  const [committed] = await sql<{ n: number; more: boolean }[]>`
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
    select (select count(*)::int from claimed) as n,
           exists (select 1 from whatsapp_inbound
                   where phone = ${phone} and status = 'pending' and id <> ${id}) as more`;
  return { toSend: committed.n > 0 && replies.length > 0, more: committed.more };
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
      ...(ch.grievances ? { grievances: ch.grievances } : {}),
      chatIdleMs: ch.chatIdleMs ?? 30 * 60_000,
      answerTimeoutMs: ch.answerTimeoutMs ?? 120_000,
      now: ch.now ?? Date.now,
      ...(template
        ? { paymentTemplate: { name: template, language: ch.config.whatsapp.templates.language } }
        : {}),
    },
    user,
    channel: "whatsapp",
    phone,
    inboundId,
  };
}

/** What the channel does with an event of the hub (the wiring observes the hub with it). */
export async function reactToEvent(ch: ChannelDeps, event: HubEvent): Promise<void> {
  const settled = paymentSettledOf(event);
  if (!settled) return;
  try {
    await notifyPayment(ch, settled);
  } catch (error) {
    ch.log.error("payment notice not queued", { paymentId: settled.id, error });
  }
}

/**
 * Tells the user about a settled payment (the `payment.settled` event, which every instance
 * hears): recorded as an event in the phone's inbound stream, so the conversation reacts to it
 * in order with what the user sends, once however often the payment is announced. Paid: every
 * user with a linked phone. Cancelled, failed, expired: payments started on WhatsApp.
 */
export async function notifyPayment(
  ch: Pick<ChannelDeps, "db" | "jobs">,
  payment: PaymentSettled,
): Promise<void> {
  const balance = payment.balance;
  const paid = payment.status === "paid";
  if (paid && balance === null) return; // flagged, not credited
  if (!paid && payment.channel !== "whatsapp") return;
  const sql = ch.db.sql;
  const [user] = await sql<{ phone: string | null }[]>`
    select phone from users where id = ${payment.userId}`;
  const phone = user?.phone;
  if (!phone) return;
  const event: PaymentEvent = {
    type: "payment",
    paymentId: payment.id,
    status: payment.status,
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
