/**
 * Payments: start a Paynow checkout, follow it to a final status, credit the wallet exactly once.
 *
 * The status machine is `created → sent → paid | cancelled | failed | expired`. Transitions only
 * move forward; every message from Paynow is recorded raw in `payment_events` with the
 * transition it caused. Reaching `paid` credits the package's tokens through the ledger, in the
 * same transaction as the status change, with the payment as the idempotency key: however many
 * result POSTs and polls report "Paid", one credit. A late "Cancelled" after "Paid" takes
 * nothing back (it is flagged for an admin); an amount that differs from the package is flagged
 * and not credited.
 *
 * Result POSTs are unreliable, so every pending payment is polled on a schedule kept in
 * Postgres (`next_poll_at`). Polls are batched: a `payments.poll_due` tick (one per 100 ms slot
 * in which polls come due) claims the due payments a batch at a time, polls each batch at once
 * and records the unchanged answers in one statement; the jobs reconciler queues a tick when
 * polls are overdue (a lost tick, a batch that died with its process).
 */
import pLimit, { type LimitFunction } from "p-limit";
import type { Sql } from "../db/mod.ts";
import type { Database } from "../db/mod.ts";
import { AppError } from "../http/errors.ts";
import type { Enqueuer } from "../jobs/types.ts";
import type { Logger } from "../observability/log.ts";
import { postInTransaction, type Tx } from "../wallet/ledger.ts";
import { getSetting } from "../accounts/settings.ts";
import { publish } from "../events.ts";
import {
  type ExpressMethod,
  formatAmount,
  parseZimbabweMobile,
  PaynowClient,
  PaynowError,
  type PaynowOutcome,
  type PaynowStatus,
} from "../paynow/mod.ts";
import { type Currency, getPackage } from "./packages.ts";
import { pollDelaySeconds, pollTickAt, queuePollTick } from "./jobs.ts";

export type PaymentStatus = "created" | "sent" | "paid" | "cancelled" | "failed" | "expired";
export type PaymentMethod = "web" | ExpressMethod;

const RANK: Record<PaymentStatus, number> = {
  created: 0,
  sent: 1,
  paid: 2,
  cancelled: 2,
  failed: 2,
  expired: 2,
};
export const isFinal = (s: PaymentStatus) => RANK[s] === 2;

export interface Payment {
  id: string;
  userId: string;
  packageId: string;
  tokens: number;
  currency: Currency;
  amount: string;
  method: PaymentMethod;
  phone: string | null;
  channel: "web" | "whatsapp" | "api";
  reference: string;
  status: PaymentStatus;
  browserUrl: string | null;
  instructions: string | null;
  error: string | null;
  flag: string | null;
  credited: boolean;
  expiresAt: Date;
  createdAt: Date;
  settledAt: Date | null;
}

export function toPayment(row: Record<string, unknown>): Payment {
  return {
    id: row.id as string,
    userId: row.user_id as string,
    packageId: row.package_id as string,
    tokens: Number(row.tokens),
    currency: row.currency as Currency,
    amount: String(row.amount),
    method: row.method as PaymentMethod,
    phone: row.phone as string | null,
    channel: row.channel as Payment["channel"],
    reference: row.reference as string,
    status: row.status as PaymentStatus,
    browserUrl: row.browser_url as string | null,
    instructions: row.instructions as string | null,
    error: row.error as string | null,
    flag: row.flag as string | null,
    credited: row.credited_entry_id !== null,
    expiresAt: row.expires_at as Date,
    createdAt: row.created_at as Date,
    settledAt: row.settled_at as Date | null,
  };
}

/** The Paynow side: one client per configured currency. */
export interface PaynowGateway {
  clients: Partial<Record<Currency, PaynowClient>>;
  /** Merchant e-mail (required for express checkout). */
  authEmail: string;
}

export const offeredCurrencies = (gateway: PaynowGateway) =>
  (Object.keys(gateway.clients) as Currency[]).filter((c) => gateway.clients[c]);

export interface PaymentDeps {
  db: Database;
  jobs: Enqueuer;
  log: Logger;
  paynow: PaynowGateway;
  publicUrl: string;
  /**
   * Tells a WhatsApp user about their payment (filled by the WhatsApp channel): called with the
   * new balance when a payment is credited, with null when one ends unpaid.
   */
  notifyWhatsApp?: (payment: Payment, balance: number | null) => Promise<void>;
}

/** `HK` + time + randomness: unique, ≤ 32 characters (Paynow's merchant trace limit). */
function newReference(): string {
  const random = crypto.getRandomValues(new Uint8Array(6));
  return `HK${Date.now().toString(36).toUpperCase()}${
    Array.from(random, (b) => b.toString(36).padStart(2, "0")).join("").toUpperCase()
  }`;
}

async function recordEvent(
  tx: Tx,
  paymentId: string,
  e: {
    source: string;
    raw?: string | null;
    paynowStatus?: string | null;
    from?: string;
    to?: string;
    note?: string;
  },
) {
  await tx`insert into payment_events (payment_id, source, raw, paynow_status, status_from, status_to, note)
           values (${paymentId}, ${e.source}, ${e.raw ?? null}, ${e.paynowStatus ?? null},
                   ${e.from ?? null}, ${e.to ?? null}, ${e.note ?? null})`;
}

export interface StartPayment {
  userId: string;
  packageId: string;
  method: PaymentMethod;
  currency?: Currency;
  phone?: string;
  channel?: Payment["channel"];
  idempotencyKey?: string;
}

/**
 * Creates the payment and initiates it with Paynow. A retried request with the same
 * idempotency key returns the first payment. A refusal by Paynow (e.g. "Insufficient balance")
 * leaves the payment `failed` with Paynow's words in `error`: nothing stays pending.
 */
export async function startPayment(deps: PaymentDeps, input: StartPayment): Promise<Payment> {
  const sql = deps.db.sql;
  if (input.idempotencyKey) {
    const [existing] = await sql`select * from payments
                                 where user_id = ${input.userId} and idempotency_key = ${input.idempotencyKey}`;
    if (existing) return toPayment(existing);
  }
  const currencies = offeredCurrencies(deps.paynow);
  const currency = input.currency ?? (currencies.includes("USD") ? "USD" : currencies[0]);
  const client = currency && deps.paynow.clients[currency];
  if (!client) {
    throw new AppError(
      "validation_failed",
      `Payments in ${input.currency ?? "any currency"} are not available.`,
      {
        field: "currency",
      },
    );
  }
  const pkg = await getPackage(sql, input.packageId, currencies);
  const price = pkg?.prices[currency];
  if (!pkg || !pkg.active || !price) {
    throw new AppError("validation_failed", "This package cannot be bought.", {
      field: "packageId",
    });
  }
  let phone: { e164: string; local: string } | null = null;
  if (input.method !== "web") {
    const parsed = parseZimbabweMobile(input.phone ?? "");
    if (!parsed.ok) {
      throw new AppError("validation_failed", `phone: ${parsed.message}`, { field: "phone" });
    }
    phone = parsed;
  }

  const expiryMinutes = await getSetting(sql, "payment_expiry_minutes");
  const reference = newReference();
  let row: Record<string, unknown>;
  try {
    [row] = await sql`
      insert into payments (user_id, package_id, tokens, currency, amount, method, phone, channel,
                            reference, idempotency_key, expires_at, next_poll_at)
      values (${input.userId}, ${pkg.id}, ${pkg.tokens}, ${currency}, ${price}, ${input.method},
              ${phone?.e164 ?? null}, ${input.channel ?? "web"}, ${reference},
              ${input.idempotencyKey ?? null}, now() + ${expiryMinutes} * interval '1 minute',
              now() + interval '2 minutes')
      returning *`;
  } catch (error) {
    // Two requests with the same idempotency key raced: the other one's payment is the answer.
    if ((error as { code?: string }).code === "23505" && input.idempotencyKey) {
      const [existing] = await sql`select * from payments
                                   where user_id = ${input.userId} and idempotency_key = ${input.idempotencyKey}`;
      return toPayment(existing);
    }
    throw error;
  }
  const payment = toPayment(row);
  const common = {
    reference,
    amount: formatAmount(price),
    additionalInfo: `${pkg.name}: ${pkg.tokens} Hurukuro tokens`,
    returnUrl: `${deps.publicUrl}/pay/return?payment=${payment.id}`,
    resultUrl: `${deps.publicUrl}/api/paynow/result`,
  };
  try {
    const initiated = input.method === "web"
      ? await client.initiateWeb({ ...common, authEmail: deps.paynow.authEmail })
      : await client.initiateExpress({
        ...common,
        authEmail: deps.paynow.authEmail,
        phone: phone!.local,
        method: input.method,
      });
    const [updated] = await sql.begin(async (tx) => {
      await recordEvent(tx, payment.id, {
        source: "initiate",
        raw: initiated.message.raw,
        paynowStatus: "Ok",
        from: "created",
        to: "sent",
        note: initiated.recovered ? "initiation answer lost; recovered by trace" : undefined,
      });
      return await tx`
        update payments set status = 'sent', poll_url = ${initiated.pollUrl},
          paynow_reference = ${initiated.paynowReference ?? null},
          browser_url = ${"browserUrl" in initiated ? initiated.browserUrl ?? null : null},
          instructions = ${"instructions" in initiated ? initiated.instructions ?? null : null},
          next_poll_at = now() + ${pollDelaySeconds(0)} * interval '1 second', updated_at = now()
        where id = ${payment.id} and status = 'created'
        returning *`;
    });
    await queuePollTick(deps.jobs, updated.next_poll_at as Date);
    deps.log.info("payment started", {
      paymentId: payment.id,
      method: input.method,
      phone: phone?.e164,
    });
    return toPayment(updated);
  } catch (error) {
    if (
      error instanceof PaynowError &&
      (error.code === "rejected" || error.transactionCreated === false)
    ) {
      const message = error.code === "rejected"
        ? `Paynow could not start the payment: ${error.paynowError ?? error.message}`
        : "Paynow could not be reached. Nothing was charged; please try again.";
      const [failed] = await sql.begin(async (tx) => {
        await recordEvent(tx, payment.id, {
          source: "initiate",
          raw: error.paynowError ?? null,
          paynowStatus: "Error",
          from: "created",
          to: "failed",
          note: error.message,
        });
        return await tx`update payments set status = 'failed', error = ${message}, next_poll_at = null,
                          settled_at = now(), updated_at = now()
                        where id = ${payment.id} returning *`;
      });
      await publish(deps.db, {
        userId: input.userId,
        type: "payment.updated",
        data: { id: payment.id, status: "failed", tokens: payment.tokens, flag: null },
      }).catch((error) => deps.log.error("payment announcement failed", { error }));
      deps.log.warn("payment refused at initiation", {
        paymentId: payment.id,
        error: error.message,
      });
      return toPayment(failed);
    }
    // Unknown whether Paynow created it: the payment stays `created` and the poller traces it.
    deps.log.error("payment initiation uncertain; will trace", { paymentId: payment.id, error });
    const [traceAt] = await sql`update payments set next_poll_at = now() + interval '10 seconds',
                                  updated_at = now()
                                where id = ${payment.id} and status = 'created'
                                returning next_poll_at`;
    if (traceAt) await queuePollTick(deps.jobs, traceAt.next_poll_at as Date);
    return payment;
  }
}

const OUTCOME_TO_STATUS: Partial<Record<PaynowOutcome, PaymentStatus>> = {
  paid: "paid",
  pending: "sent",
  cancelled: "cancelled",
  failed: "failed",
};

export interface StatusReport {
  source: "poll" | "result" | "trace";
  status: PaynowStatus;
}

/**
 * Applies what Paynow said about a payment: the transition (forward only), its record, and on
 * `paid` the credit, all in one transaction. Returns the payment after it.
 */
export async function applyStatus(
  deps: PaymentDeps,
  paymentId: string,
  report: StatusReport,
): Promise<Payment> {
  const { status: s } = report;
  const target = OUTCOME_TO_STATUS[s.outcome];
  let credited: { balance: number } | null = null;
  // Whether the user has anything to hear: a pending payment polled every few seconds would
  // otherwise publish an unchanged `payment.updated` on every poll.
  let changed = false;
  const payment = await deps.db.sql.begin(async (tx) => {
    const [row] = await tx`select * from payments where id = ${paymentId} for update`;
    if (!row) throw new AppError("not_found", "This payment does not exist.");
    const current = row.status as PaymentStatus;
    const event = {
      source: report.source,
      raw: s.message.raw,
      paynowStatus: s.status,
      from: current,
    };

    if (!target) {
      await recordEvent(tx, paymentId, { ...event, note: `unknown Paynow status ${s.status}` });
      return row;
    }
    if (isFinal(current)) {
      // Final already: only the "money came back" cases deserve an admin's eye.
      const lateFlag = current === "paid" && (target === "cancelled" || target === "failed")
        ? (/refund/i.test(s.status) ? "refunded_after_paid" : "cancelled_after_paid")
        : null;
      await recordEvent(tx, paymentId, {
        ...event,
        note: lateFlag ? `flagged: ${lateFlag}` : "already final",
      });
      if (lateFlag && !row.flag) {
        changed = true;
        const [flagged] = await tx`update payments set flag = ${lateFlag}, updated_at = now()
                                   where id = ${paymentId} returning *`;
        return flagged;
      }
      return row;
    }
    if (RANK[target] < RANK[current] || target === current) {
      await recordEvent(tx, paymentId, { ...event, note: "no change" });
      return row;
    }
    changed = true;
    if (target !== "paid") {
      await recordEvent(tx, paymentId, { ...event, to: target });
      const [updated] = await tx`
        update payments set status = ${target}, updated_at = now(),
          settled_at = ${isFinal(target) ? new Date() : null},
          next_poll_at = ${isFinal(target) ? null : row.next_poll_at},
          paynow_reference = coalesce(paynow_reference, ${s.paynowReference || null})
        where id = ${paymentId} returning *`;
      return updated;
    }
    // Paid. Credit only what was paid for.
    const expected = formatAmount(String(row.amount));
    const reported = s.amount ? formatAmount(s.amount) : expected;
    if (reported !== expected) {
      await recordEvent(tx, paymentId, {
        ...event,
        to: "paid",
        note: `amount ${reported} ≠ ${expected}: flagged, not credited`,
      });
      const [flagged] =
        await tx`update payments set status = 'paid', flag = 'amount_mismatch', next_poll_at = null,
                                   settled_at = now(), updated_at = now()
                                 where id = ${paymentId} returning *`;
      return flagged;
    }
    const result = await postInTransaction(tx, {
      userId: row.user_id,
      kind: "purchase_credit",
      delta: Number(row.tokens),
      idempotencyKey: `payment:${paymentId}`,
      description: `${row.tokens} tokens bought (${
        row.method === "web" ? "Paynow" : row.method
      }, ${row.currency} ${expected})`,
      reference: { paymentId, paynowReference: s.paynowReference || null },
    });
    credited = { balance: result.balance };
    await recordEvent(tx, paymentId, {
      ...event,
      to: "paid",
      note: `credited ${row.tokens} tokens`,
    });
    const [paid] = await tx`
      update payments set status = 'paid', credited_entry_id = ${result.entry.id || null},
        next_poll_at = null, settled_at = now(), updated_at = now(),
        paynow_reference = coalesce(paynow_reference, ${s.paynowReference || null})
      where id = ${paymentId} returning *`;
    return paid;
  });
  const after = toPayment(payment);
  if (changed) await announce(deps, after, credited);
  return after;
}

/** Tells the user: SSE events for the web, a WhatsApp message for linked phones. */
async function announce(deps: PaymentDeps, payment: Payment, credited: { balance: number } | null) {
  try {
    await publish(deps.db, {
      userId: payment.userId,
      type: "payment.updated",
      data: { id: payment.id, status: payment.status, tokens: payment.tokens, flag: payment.flag },
    });
    if (credited) {
      await publish(deps.db, {
        userId: payment.userId,
        type: "wallet.updated",
        data: { balance: credited.balance, reason: "purchase", paymentId: payment.id },
      });
      await deps.notifyWhatsApp?.(payment, credited.balance);
    } else if (isFinal(payment.status) && payment.status !== "paid") {
      await deps.notifyWhatsApp?.(payment, null);
    }
  } catch (error) {
    deps.log.error("payment announcement failed", { paymentId: payment.id, error });
  }
}

/**
 * How long a claimed payment is held by the batch polling it: its `next_poll_at` meanwhile, so
 * a batch that dies with its process is picked up again by the reconciler once this runs out.
 * Longer than a batch can take (Paynow's time limit and retries per poll).
 */
const POLL_LEASE_SECONDS = 120;
/** Payments claimed by one batch: polled at once, their unchanged answers recorded together. */
export const POLL_BATCH_SIZE = 200;
/** Batches one tick runs side by side while payments keep coming due by the full batch. */
const POLL_BATCHES_AT_ONCE = 6;
/** Paynow requests in flight per process and Paynow integration set (keep-alive connections). */
export const POLL_IN_FLIGHT = 256;
/** Changed payments of one batch taken through the full status transition at once. */
const SETTLE_AT_ONCE = 8;

type Row = Record<string, unknown>;
/** What a poll reads of a claimed payment. */
const CLAIMED = [
  "id",
  "status",
  "currency",
  "reference",
  "poll_url",
  "poll_count",
  "next_poll_at",
  "expires_at",
];

const inFlight = new WeakMap<PaynowGateway, LimitFunction>();
function paynowLimit(gateway: PaynowGateway): LimitFunction {
  let limit = inFlight.get(gateway);
  if (!limit) inFlight.set(gateway, limit = pLimit(POLL_IN_FLIGHT));
  return limit;
}

/**
 * Claims up to `limit` pending payments whose poll is due (by `upTo` at the latest: the slot of
 * the tick, which may still be ahead). Each one's `next_poll_at` becomes the lease, so no other
 * batch, in this process or another, takes it until its answer is recorded; its due time comes
 * back as `due`. `SKIP LOCKED` lets batches on a server claim side by side without waiting for
 * each other; the embedded database runs one statement at a time, where the same statement is
 * simply exact.
 */
export async function claimDuePolls(
  sql: Sql,
  limit = POLL_BATCH_SIZE,
  upTo: Date | null = null,
): Promise<Row[]> {
  return await sql`
    update payments p
    set next_poll_at = date_trunc('milliseconds', now()) + ${POLL_LEASE_SECONDS} * interval '1 second'
    from (select id, next_poll_at as due from payments
          where status in ('created', 'sent')
            and next_poll_at <= greatest(now(), ${upTo}::timestamptz)
          order by next_poll_at limit ${limit} for update skip locked) d
    where p.id = d.id
    returning p.id, p.status, p.currency, p.reference, p.poll_url, p.poll_count, p.next_poll_at,
              p.expires_at, d.due`;
}

/** For the reconciler: pending payments whose poll is overdue (its tick was lost, or its batch). */
export async function hasOverduePolls(sql: Sql, graceSeconds = 30): Promise<boolean> {
  const [row] = await sql`
    select exists (select 1 from payments
                   where status in ('created', 'sent')
                     and next_poll_at < now() - ${graceSeconds} * interval '1 second') as overdue`;
  return row.overdue as boolean;
}

/**
 * Claimed payments a tick holds before their polls are sent. A tick comes ahead of its slot
 * (`POLL_CLAIM_AHEAD_MS`) to claim, so that at the due time the polls go out at once; this
 * bounds what it holds (well inside the lease) when Paynow answers slowly.
 */
const MOST_CLAIMED_AHEAD = 10_000;
/** How long a tick's answers may wait to be recorded while its polls are being sent. */
const RECORDING_DEFERRED_MOST_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A tick of the polling schedule. Two sides run together:
 * - claiming: batches of due payments (up to `at`, the tick's slot, even before it has come)
 *   are claimed while they come back full; until the slot's end is reached, it waits and claims
 *   again, so that payments joining the slot after the tick started are not left to the
 *   reconciler;
 * - polling: each claimed batch, once its payments are due, is polled at once (see
 *   {@link pollClaimed}), up to {@link POLL_BATCHES_AT_ONCE} batches side by side.
 * A tick that arrives ahead of its slot has done the database's share of claiming by the time
 * the polls are due, so they are sent on time however many fell due together. Returns how many
 * were polled.
 */
export async function pollDuePayments(
  deps: PaymentDeps,
  options: {
    at?: number;
    batchSize?: number;
    batchesAtOnce?: number;
    /** Told the ids of each batch as it is claimed (for observing how the tick splits). */
    onBatch?: (ids: string[]) => void;
  } = {},
): Promise<number> {
  const batchSize = options.batchSize ?? POLL_BATCH_SIZE;
  const most = options.batchesAtOnce ?? POLL_BATCHES_AT_ONCE;
  const upTo = options.at === undefined ? null : new Date(options.at);
  const slotEnd = options.at ?? 0;
  let polled = 0;
  let held = 0;
  let claiming = true;
  const ready: Row[][] = [];
  // Whoever waits (pollers for a batch, the claimer for room) is woken by any change.
  let wake: () => void = () => {};
  let changed = new Promise<void>((resolve) => wake = resolve);
  const signal = () => {
    const w = wake;
    changed = new Promise<void>((resolve) => wake = resolve);
    w();
  };

  const claim = async (): Promise<void> => {
    try {
      for (;;) {
        while (held >= MOST_CLAIMED_AHEAD) await changed;
        const rows = await claimDuePolls(deps.db.sql, batchSize, upTo);
        if (rows.length > 0) {
          polled += rows.length;
          held += rows.length;
          ready.push(rows);
          options.onBatch?.(rows.map((r) => r.id as string));
          signal();
        }
        if (rows.length === batchSize) continue;
        const untilSlotEnd = slotEnd - Date.now();
        if (untilSlotEnd <= 0) return;
        await sleep(untilSlotEnd);
      }
    } finally {
      claiming = false;
      signal();
    }
  };

  // Recording answers waits while polls are waiting to be sent (batches claimed, or polls queued
  // for a connection): on the embedded database a statement holds this process's thread, and a
  // poll sent on time is what the schedule promises; an answer recorded a second later is not.
  // Not for longer than RECORDING_DEFERRED_MOST_MS, well inside the lease.
  const paynow = paynowLimit(deps.paynow);
  const sendsDone = async () => {
    const until = Date.now() + RECORDING_DEFERRED_MOST_MS;
    while ((ready.length > 0 || paynow.pendingCount > 0) && Date.now() < until) {
      await (ready.length > 0 ? changed : sleep(5));
    }
  };
  const tails: Promise<unknown>[] = [];
  const poll = async (): Promise<void> => {
    for (;;) {
      const rows = ready.shift();
      if (rows && ready.length === 0) signal();
      if (!rows) {
        if (!claiming) return;
        await changed;
        continue;
      }
      const due = Math.max(...rows.map((r) => (r.due as Date).getTime()));
      if (due > Date.now()) await sleep(due - Date.now());
      // The next batch is taken as soon as Paynow has answered this one: recording it and
      // queueing its ticks go on meanwhile (and are waited for before the tick ends).
      let asked!: () => void;
      const answered = new Promise<void>((resolve) => asked = resolve);
      const work = pollClaimed(deps, rows, asked, sendsDone);
      tails.push(work);
      await Promise.race([answered, work]).catch(() => {});
      held -= rows.length;
      signal();
    }
  };

  const sides = [claim(), ...Array.from({ length: most }, poll)];
  let first: unknown = null;
  for (const outcome of await Promise.allSettled(sides)) {
    if (outcome.status === "rejected") first ??= outcome.reason;
  }
  for (const outcome of await Promise.allSettled(tails)) {
    if (outcome.status === "rejected") first ??= outcome.reason;
  }
  if (first) throw first;
  return polled;
}

/**
 * Polls one payment now, whatever its schedule (a result POST to confirm, an admin's request):
 * claimed like a batch of one, so a batch never polls it at the same time. A final payment is
 * returned as it is; a poll Paynow did not answer is rescheduled and its error thrown.
 */
export async function pollPayment(deps: PaymentDeps, paymentId: string): Promise<Payment> {
  const sql = deps.db.sql;
  const [row] = await sql`
    update payments
    set next_poll_at = date_trunc('milliseconds', now()) + ${POLL_LEASE_SECONDS} * interval '1 second'
    where id = ${paymentId} and status in ('created', 'sent')
    returning ${sql(CLAIMED)}`;
  if (row) {
    const [outcome] = await pollClaimed(deps, [row]);
    if (outcome.error !== undefined) throw outcome.error;
  }
  const [after] = await sql`select * from payments where id = ${paymentId}`;
  if (!after) throw new AppError("not_found", "This payment does not exist.");
  return toPayment(after);
}

interface Answer {
  row: Row;
  /** Null when a trace found no transaction at Paynow. */
  report: StatusReport | null;
  /** Set when Paynow could not be asked. */
  error?: unknown;
}

/** Asks Paynow about a claimed payment: its poll URL, or by trace when that was lost. */
async function askPaynow(deps: PaymentDeps, row: Row): Promise<StatusReport | null> {
  const client = deps.paynow.clients[row.currency as Currency];
  if (!client) throw new Error(`no Paynow integration for ${row.currency}`);
  if (row.poll_url) return { source: "poll", status: await client.poll(row.poll_url as string) };
  const traced = await client.trace(row.reference as string);
  if (!traced) return null;
  await deps.db.sql`update payments set poll_url = ${traced.pollUrl}, updated_at = now()
                    where id = ${row.id as string}`;
  return { source: "trace", status: traced };
}

/**
 * One batch of claimed payments: Paynow asked about all of them at once (over keep-alive
 * connections, at most {@link POLL_IN_FLIGHT} per process), then
 * - the answers that change nothing (most: still pending) recorded, each with its next poll on
 *   the growing schedule, in ONE statement;
 * - the polls Paynow did not answer rescheduled for the same step of the schedule (not counted),
 *   in one statement;
 * - the rest (a new status, a payment past its expiry, a claim lost meanwhile) taken one by one
 *   through the full path: the status transaction (credit once), events, expiry, next poll;
 * - the ticks of the next due times queued (one per slot).
 * Returns each payment's outcome, in order (`error`: it was not polled, or not settled).
 */
export async function pollClaimed(
  deps: PaymentDeps,
  rows: Row[],
  asked: () => void = () => {},
  sendsDone: () => Promise<void> = () => Promise.resolve(),
): Promise<{ id: string; error?: unknown }[]> {
  const limit = paynowLimit(deps.paynow);
  const answers = await Promise.all(rows.map((row) =>
    limit(() => askPaynow(deps, row)).then(
      (report): Answer => ({ row, report }),
      (error): Answer => ({ row, report: null, error: error ?? new Error("poll failed") }),
    )
  ));
  asked();
  await sendsDone();
  const errors = new Map<string, unknown>();
  const due: Date[] = [];
  const failed = answers.filter((a) => a.error !== undefined);
  const unchanged = answers.filter((a) =>
    a.error === undefined && a.report !== null &&
    OUTCOME_TO_STATUS[a.report.status.outcome] === a.row.status
  );
  const recorded = await recordUnchangedPolls(deps.db.sql, unchanged);
  due.push(...recorded.values());
  const rest = answers.filter((a) => a.error === undefined && !recorded.has(a.row.id as string));

  if (failed.length > 0) {
    due.push(...await rescheduleFailedPolls(deps.db.sql, failed));
    for (const a of failed) errors.set(a.row.id as string, a.error);
    deps.log.warn("Paynow polls failed; rescheduled", {
      count: failed.length,
      paymentId: failed[0].row.id,
      error: failed[0].error,
    });
  }

  const settling = pLimit(SETTLE_AT_ONCE);
  await Promise.all(rest.map((a) =>
    settling(async () => {
      try {
        const next = await settle(deps, a.row, a.report);
        if (next) due.push(next);
      } catch (error) {
        // Left claimed: the reconciler queues a tick for it once its lease has run out.
        errors.set(a.row.id as string, error);
        deps.log.error("payment poll not settled", { paymentId: a.row.id, error });
      }
    })
  ));

  const slots = new Set(due.map((d) => pollTickAt(d)));
  await Promise.all([...slots].map((at) => queuePollTick(deps.jobs, at)));
  return rows.map((row) => {
    const id = row.id as string;
    return errors.has(id) ? { id, error: errors.get(id) } : { id };
  });
}

/**
 * Polls that changed nothing: each answer recorded and the next poll scheduled, for the whole
 * batch in one statement, for each payment only while the batch still holds it (its lease), it
 * is still in the status it was read in and not yet expired. Returns id → next due time of the
 * payments recorded; the others take the full path.
 */
async function recordUnchangedPolls(sql: Sql, answers: Answer[]): Promise<Map<string, Date>> {
  if (answers.length === 0) return new Map();
  const column = <T>(f: (a: Answer) => T) => answers.map(f);
  const rows = await sql<{ id: string; next_poll_at: Date }[]>`
    with answer as (
      select * from unnest(
        ${column((a) => a.row.id as string)}::uuid[],
        ${column((a) => a.row.status as string)}::text[],
        ${column((a) => (a.row.next_poll_at as Date).toISOString())}::timestamptz[],
        ${column((a) => Number(a.row.poll_count))}::int[],
        ${column((a) => pollDelaySeconds(Number(a.row.poll_count) + 1))}::int[],
        ${column((a) => a.report!.source)}::text[],
        ${column((a) => a.report!.status.message.raw)}::text[],
        ${column((a) => a.report!.status.status)}::text[]
      ) as a(id, status, lease, poll_count, delay_seconds, source, raw, paynow_status)
    ), scheduled as (
      update payments p set poll_count = p.poll_count + 1,
        next_poll_at = least(now() + a.delay_seconds * interval '1 second', p.expires_at),
        updated_at = now()
      from answer a
      where p.id = a.id and p.status = a.status and p.poll_count = a.poll_count
        and p.next_poll_at = a.lease and p.expires_at > now()
      returning p.id, p.status, p.next_poll_at
    ), recorded as (
      insert into payment_events (payment_id, source, raw, paynow_status, status_from, note)
      select s.id, a.source, a.raw, a.paynow_status, s.status, 'no change'
      from scheduled s join answer a on a.id = s.id
    )
    select id, next_poll_at from scheduled`;
  return new Map(rows.map((r) => [r.id, r.next_poll_at]));
}

/**
 * Polls Paynow did not answer: asked again after the interval of the same step of the schedule
 * (the step is not counted), in one statement, while the batch still holds them. Returns the
 * new due times.
 */
async function rescheduleFailedPolls(sql: Sql, answers: Answer[]): Promise<Date[]> {
  const rows = await sql<{ next_poll_at: Date }[]>`
    update payments p
    set next_poll_at = now() + a.delay_seconds * interval '1 second', updated_at = now()
    from unnest(
      ${answers.map((a) => a.row.id as string)}::uuid[],
      ${answers.map((a) => (a.row.next_poll_at as Date).toISOString())}::timestamptz[],
      ${answers.map((a) => pollDelaySeconds(Number(a.row.poll_count)))}::int[]
    ) as a(id, lease, delay_seconds)
    where p.id = a.id and p.next_poll_at = a.lease and p.status in ('created', 'sent')
    returning p.next_poll_at`;
  return rows.map((r) => r.next_poll_at);
}

/**
 * The full path for one polled payment: the answer applied (transition, credit, events), then
 * expiry, then its next poll, scheduled while this batch still holds it. Returns the next due
 * time, null when there is none (final, or taken over by another poll).
 */
async function settle(deps: PaymentDeps, row: Row, report: StatusReport | null) {
  const sql = deps.db.sql;
  const paymentId = row.id as string;
  let payment = report
    ? await applyStatus(deps, paymentId, report)
    : toPayment((await sql`select * from payments where id = ${paymentId}`)[0]);
  if (isFinal(payment.status)) return null;

  if (payment.expiresAt.getTime() <= Date.now()) {
    let changed = false;
    const [expired] = await sql.begin(async (tx) => {
      const [r] = await tx`select status from payments where id = ${paymentId} for update`;
      if (isFinal(r.status)) return await tx`select * from payments where id = ${paymentId}`;
      changed = true;
      await recordEvent(tx, paymentId, {
        source: "expiry",
        from: r.status,
        to: "expired",
        note: "not settled in time",
      });
      return await tx`update payments set status = 'expired', next_poll_at = null, settled_at = now(),
                        updated_at = now() where id = ${paymentId} returning *`;
    });
    payment = toPayment(expired);
    if (changed) await announce(deps, payment, null);
    return null;
  }

  const [scheduled] = await sql<{ next_poll_at: Date }[]>`
    update payments set poll_count = poll_count + 1,
      next_poll_at = least(now() + ${
    pollDelaySeconds(Number(row.poll_count) + 1)
  } * interval '1 second', expires_at),
      updated_at = now()
    where id = ${paymentId} and status in ('created', 'sent')
      and next_poll_at = ${row.next_poll_at as Date}
    returning next_poll_at`;
  return scheduled?.next_poll_at ?? null;
}

export async function getPaymentForUser(
  sql: Sql,
  userId: string,
  id: string,
): Promise<Payment | null> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
  const [row] = await sql`select * from payments where id = ${id} and user_id = ${userId}`;
  return row ? toPayment(row) : null;
}

export async function listPaymentsForUser(
  sql: Sql,
  userId: string,
  options: { limit?: number; before?: Date } = {},
): Promise<Payment[]> {
  const limit = Math.min(Math.max(options.limit ?? 20, 1), 100);
  const rows = await sql`select * from payments where user_id = ${userId}
                           and created_at < ${options.before ?? new Date("9999-01-01")}
                         order by created_at desc limit ${limit}`;
  return rows.map(toPayment);
}

/** Finds the payment a result POST is about and checks its hash with that payment's key. */
export async function paymentForResult(
  sql: Sql,
  gateway: PaynowGateway,
  body: string,
): Promise<{ payment: Payment; status: PaynowStatus } | null> {
  const reference = new URLSearchParams(body).entries().find(([k]) =>
    k.toLowerCase() === "reference"
  )?.[1];
  // Ours are short printable ASCII (newReference); anything else cannot be one, and a NUL in
  // it would fail the query instead of finding nothing.
  if (!reference || !/^[\x20-\x7e]{1,100}$/.test(reference)) return null;
  const [row] = await sql`select * from payments where reference = ${reference}`;
  if (!row) return null;
  const payment = toPayment(row);
  const client = gateway.clients[payment.currency];
  if (!client) return null;
  return { payment, status: client.parseResultPost(body) };
}
