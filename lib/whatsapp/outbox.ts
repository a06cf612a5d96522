/**
 * Outbound WhatsApp messages: recorded in `whatsapp_outbound` (in the same transaction as the
 * conversation step that produced them), then sent by the `whatsapp.send` job in order per phone.
 *
 * - Long texts are split at paragraph/sentence boundaries to the provider's limit (4,096 on
 *   Meta, 1,600 on Twilio) when recorded, each part its own row, so they go out in order.
 * - One sender per phone at a time (a lease), so parts never overtake each other.
 * - Retries on 429/5xx/network, honouring `Retry-After`: short waits inline, longer ones by a
 *   delayed job (later messages to that phone wait behind it).
 * - Pacing: a gap between messages to one user and a ceiling on messages a second overall.
 * - The 24-hour window: outside it only a configured template may go (payment notices); anything
 *   else is dropped with the reason recorded and logged.
 */
import type { Database, Sql } from "../db/mod.ts";
import { LEASE_MS, whileRenewing } from "../jobs/lease.ts";
import type { Enqueuer } from "../jobs/types.ts";
import type { Logger } from "../observability/log.ts";
import type { Tx } from "../wallet/ledger.ts";
import { splitMessage } from "./format.ts";
import { whatsappSendJob } from "./jobs.ts";
import type { Gate } from "./gate.ts";
import type { Leases } from "./leases.ts";
import {
  type OutboundMessage,
  type OutboundTemplate,
  WhatsAppError,
  type WhatsAppProvider,
} from "./types.ts";

export const WINDOW_MS = 24 * 3600 * 1000;
export const MAX_SEND_ATTEMPTS = 6;
/** Retry waits up to this long happen inside the job; longer ones are a delayed job. */
const INLINE_WAIT_MS = 3_000;
/** Pacing waits up to this long happen inside the job (a lane slot is held meanwhile). */
const INLINE_PACE_MS = 100;

export interface Outgoing {
  message: OutboundMessage;
  /** Sent instead when the 24-hour window is closed; without one the message is dropped. */
  template?: OutboundTemplate;
}

export interface OutboxDeps {
  db: Database;
  log: Logger;
  provider: WhatsAppProvider;
  jobs: Enqueuer;
  pacer: Pacer;
  /** See ChannelDeps.ingestIdle. */
  ingestIdle?: () => Promise<void>;
  /** See ChannelDeps.gate. */
  gate: Gate;
  /** One sender per phone at a time. */
  leases: Leases;
}

/**
 * Records messages for `phone` (inside the caller's transaction). Texts over `textLimit` become
 * several parts. With an `inboundId`, recording twice is a no-op (`unique (inbound_id, part)`).
 */
export async function recordOutgoing(
  tx: Tx,
  phone: string,
  items: Outgoing[],
  options: { kind: "reply" | "notice" | "code"; inboundId?: string | null; textLimit: number },
): Promise<number> {
  const rows = outgoingParts(items, options.textLimit);
  for (const row of rows) {
    await tx`insert into whatsapp_outbound (phone, inbound_id, part, kind, message, template)
             values (${phone}, ${options.inboundId ?? null}, ${row.part}, ${options.kind},
                     ${tx.json(row.message as never)},
                     ${row.template ? tx.json(row.template as never) : null})
             on conflict (inbound_id, part) do nothing`;
  }
  return rows.length;
}

export interface OutgoingPart {
  part: number;
  message: OutboundMessage;
  template: OutboundTemplate | null;
}

/** The rows `items` become: texts over `textLimit` split, parts numbered in order. */
export function outgoingParts(items: Outgoing[], textLimit: number): OutgoingPart[] {
  const rows: OutgoingPart[] = [];
  for (const item of items) {
    const m = item.message;
    const parts: OutboundMessage[] = m.type === "text"
      ? splitMessage(m.text, textLimit).map((text) => ({ ...m, text }))
      : [m];
    for (const message of parts) {
      rows.push({ part: rows.length, message, template: item.template ?? null });
    }
  }
  return rows;
}

/** Queues the send job for `phone` (after the rows are committed). */
export async function kickSender(jobs: Enqueuer, phone: string, delay = 0): Promise<void> {
  await jobs.enqueue(whatsappSendJob, { phone }, delay ? { delay } : {});
}

/**
 * Sends everything queued for `phone`, in order. Returns without doing anything when another
 * worker holds the phone's send lease (it will send these too: it looks again after letting go).
 */
export async function drainOutbox(deps: OutboxDeps, phone: string): Promise<void> {
  const sql = deps.db.sql;
  for (let round = 0; round < 10; round++) {
    const lease = await deps.leases.acquire(phone, "send", LEASE_MS);
    if (!lease) return;
    // The last send to this phone may have been another instance's.
    if (lease.lastSentAgoMs !== null) deps.pacer.sentBefore(phone, lease.lastSentAgoMs);
    let retryInMs: number | null;
    let again: boolean;
    try {
      // Renewed while sending (a phone's backlog is paced): a dead sender frees it soon.
      retryInMs = await whileRenewing(
        () => lease.renew(),
        () => deps.gate.run(() => sendQueued(deps, phone, () => lease.sent())),
        { log: deps.log, what: "whatsapp.send" },
      );
    } finally {
      again = await lease.release();
    }
    if (retryInMs !== null) {
      await kickSender(deps.jobs, phone, Math.max(1, Math.ceil(retryInMs)));
      return;
    }
    // Rows queued while the lease was held: their job saw it taken and left them to us.
    if (!again) return;
    const [more] = await sql`select 1 as x from whatsapp_outbound
                             where phone = ${phone} and status = 'queued'
                               and (not_before is null or not_before <= now()) limit 1`;
    if (!more) return;
  }
}

/**
 * Sends until nothing is queued (null) or a wait is needed (ms until the next try); `onSent`
 * records each send with the lease.
 */
async function sendQueued(
  deps: OutboxDeps,
  phone: string,
  onSent: () => void,
): Promise<number | null> {
  const sql = deps.db.sql;
  let windowOpen: boolean | null = null;
  /** The next queued message as the last send's record read it (undefined: read it now). */
  let next: QueuedRow | null | undefined;
  for (;;) {
    await deps.ingestIdle?.();
    const row = next === undefined ? await nextQueued(sql, phone) : next;
    next = undefined;
    if (!row) return null;
    const lastInbound = row.last_inbound_at;
    windowOpen ??= !!lastInbound && Date.now() - lastInbound.getTime() < WINDOW_MS;
    const id = row.id;
    const notBefore = row.not_before;
    if (notBefore && notBefore.getTime() > Date.now()) return notBefore.getTime() - Date.now();
    const template = row.template;
    let message: OutboundMessage = row.message;
    if (!windowOpen) {
      if (!template) {
        await drop(deps, id, phone, "outside the 24-hour window and no template applies");
        continue;
      }
      message = template;
    }
    const paceMs = await deps.gate.outside(() => deps.pacer.wait(phone, INLINE_PACE_MS));
    if (paceMs > 0) return paceMs;
    try {
      await deps.gate.outside(async () => {
        const sent = await deps.provider.send(phone, message);
        // Recorded at once, before this worker waits for anything (the gate, other work): the
        // provider has no idempotency key, so a crash before this write sends it again. The
        // same statement reads the phone's next queued message (what came since is found
        // when the lease is let go).
        const [following] = await sql<QueuedRow[]>`
          with sent as (
            update whatsapp_outbound set status = 'sent', sent_at = now(),
              attempts = attempts + 1, provider_message_id = ${sent.providerMessageId},
              error = null, not_before = null
            where id = ${id}
          )
          ${queuedAfter(sql, phone, id)}`;
        next = following ?? null;
        onSent();
      });
    } catch (error) {
      if (!(error instanceof WhatsAppError)) throw error;
      if (error.kind === "outside_window") {
        // Our record of the window was stale: only a template may go now.
        windowOpen = false;
        if (template && message !== template) continue;
        await drop(deps, id, phone, "the provider refused it: outside the 24-hour window");
        continue;
      }
      const attempts = Number(row.attempts) + 1;
      if (!error.retryable || attempts >= MAX_SEND_ATTEMPTS) {
        await sql`update whatsapp_outbound set status = 'failed', attempts = ${attempts},
                    error = ${error.message} where id = ${id}`;
        deps.log.error("WhatsApp message could not be sent", {
          outboundId: id,
          phone,
          kind: error.kind,
          attempts,
          error: error.message,
        });
        continue;
      }
      const wait = error.retryAfterMs ?? Math.min(60_000, 500 * 2 ** attempts);
      await sql`update whatsapp_outbound set attempts = ${attempts}, error = ${error.message},
                  not_before = now() + ${wait} * interval '1 millisecond'
                where id = ${id}`;
      deps.log.warn("WhatsApp send failed, will retry", {
        outboundId: id,
        phone,
        kind: error.kind,
        attempts,
        retryInMs: wait,
      });
      if (wait > INLINE_WAIT_MS) return wait;
      await deps.gate.outside(() => new Promise((resolve) => setTimeout(resolve, wait)));
    }
  }
}

/** A queued `whatsapp_outbound` row and when its phone last wrote to us (the 24-hour window). */
interface QueuedRow {
  /** A bigserial: postgres.js reads it as a string. */
  id: string;
  message: OutboundMessage;
  template: OutboundTemplate | null;
  attempts: number;
  not_before: Date | null;
  last_inbound_at: Date | null;
}

/** The phone's first queued message other than `except` (a row written in the same statement). */
const queuedAfter = (sql: Sql, phone: string, except: string | null) =>
  sql`select o.*, s.last_inbound_at from whatsapp_outbound o
      left join whatsapp_sessions s on s.phone = o.phone
      where o.phone = ${phone} and o.status = 'queued'
        ${except === null ? sql`` : sql`and o.id <> ${except}`}
      order by o.id limit 1`;

async function nextQueued(sql: Sql, phone: string): Promise<QueuedRow | null> {
  const [row] = await sql<QueuedRow[]>`${queuedAfter(sql, phone, null)}`;
  return row ?? null;
}

async function drop(deps: OutboxDeps, id: string, phone: string, reason: string) {
  await deps.db.sql`update whatsapp_outbound set status = 'dropped', error = ${reason}
                    where id = ${id}`;
  deps.log.warn("WhatsApp message dropped", { outboundId: id, phone, reason });
}

/** The part of the send rate the pacing uses (see {@link Pacer.interval}). */
const RATE_MARGIN = 0.99;

/**
 * Spaces sends: at most `perSecond` in all (the business number's throughput) and at least
 * `phoneGapMs` between two messages to one user (WhatsApp throttles bursts to one person).
 *
 * With several instances each paces at its share, `perSecond` ÷ the live instances (exactly:
 * the intervals need not be whole), read at every send so that the shares follow instances as
 * they come and go. The gap to one user is kept across instances by the send lease's record of
 * the last send ({@link Pacer.sentBefore}).
 */
export class Pacer {
  /** When this instance's latest send went (its turn came), by `performance.now()`. */
  #last = -Infinity;
  /** Sends take turns: each waits for the one before it to have gone. */
  #turns: Promise<void> = Promise.resolve();
  readonly #nextForPhone = new Map<string, number>();

  constructor(
    readonly perSecond: number,
    readonly phoneGapMs = 250,
    /** How many instances share the rate (lib/instances.ts); one by default. */
    readonly instances: () => number = () => 1,
  ) {}

  /**
   * Milliseconds between two of this instance's sends: its share of the rate, less 1 %, since a
   * send's way to the provider varies by a few milliseconds and that must not put two of them
   * into one second's share.
   */
  get interval(): number {
    return 1000 * Math.max(1, this.instances()) / (this.perSecond * RATE_MARGIN);
  }

  /** `phone` was last sent to `agoMs` ago (by any instance): its next send keeps the gap. */
  sentBefore(phone: string, agoMs: number): void {
    const at = performance.now() - agoMs + this.phoneGapMs;
    if (at > (this.#nextForPhone.get(phone) ?? 0)) this.#nextForPhone.set(phone, at);
  }

  /**
   * Waits for `phone`'s turn to send, unless the gap to its last message ends more than
   * `maxWaitMs` from now: then nothing is taken and the wait is returned (the caller comes back
   * later rather than hold a worker). Resolves to 0 once it is time to send.
   *
   * Turns are spaced from the moment each one actually came, not from when it was planned: a
   * busy event loop that wakes a send late pushes the next ones back rather than letting them
   * go in a bunch, so no second ever has more than its share.
   */
  async wait(phone: string, maxWaitMs = Infinity): Promise<number> {
    const phoneAt = this.#nextForPhone.get(phone) ?? 0;
    const ahead = phoneAt - performance.now();
    if (ahead > maxWaitMs) return Math.ceil(ahead);
    // The user's own gap is waited out before taking a turn: in the line of turns it would hold
    // up every other user's send behind it.
    if (ahead > 0) await new Promise((resolve) => setTimeout(resolve, ahead));
    const turn = this.#turns.then(async () => {
      const wait = Math.max(this.#last + this.interval, phoneAt) - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      this.#last = performance.now();
    });
    this.#turns = turn;
    await turn;
    if (this.#nextForPhone.size > 10_000) {
      const now = performance.now();
      for (const [p, t] of this.#nextForPhone) if (t < now) this.#nextForPhone.delete(p);
    }
    this.#nextForPhone.set(phone, this.#last + this.phoneGapMs);
    return 0;
  }
}
