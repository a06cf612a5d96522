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
 * Postgres (`next_poll_at`): the `payments.poll` job re-queues itself, and the jobs reconciler
 * resumes any poll whose job was lost.
 */
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
import { paymentPollJob, pollDelaySeconds } from "./jobs.ts";

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
    await deps.jobs.enqueue(paymentPollJob, { paymentId: payment.id }, {
      delay: pollDelaySeconds(0) * 1000,
      dedupeKey: `${payment.id}:0`,
    });
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
      deps.log.warn("payment refused at initiation", {
        paymentId: payment.id,
        error: error.message,
      });
      return toPayment(failed);
    }
    // Unknown whether Paynow created it: the payment stays `created` and the poller traces it.
    deps.log.error("payment initiation uncertain; will trace", { paymentId: payment.id, error });
    await deps.jobs.enqueue(paymentPollJob, { paymentId: payment.id }, {
      delay: 10_000,
      dedupeKey: `${payment.id}:trace`,
    });
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
 * One step of the polling schedule: ask Paynow (tracing a lost poll URL first), apply the
 * answer, and either finish or queue the next poll with a growing interval. Past its expiry an
 * unsettled payment becomes `expired`.
 */
export async function pollPayment(deps: PaymentDeps, paymentId: string): Promise<Payment> {
  const sql = deps.db.sql;
  const [row] = await sql`select * from payments where id = ${paymentId}`;
  if (!row) throw new AppError("not_found", "This payment does not exist.");
  let payment = toPayment(row);
  if (isFinal(payment.status)) return payment;
  const client = deps.paynow.clients[payment.currency];
  if (!client) throw new Error(`no Paynow integration for ${payment.currency}`);

  let report: StatusReport | null = null;
  if (row.poll_url) {
    report = { source: "poll", status: await client.poll(row.poll_url) };
  } else {
    const traced = await client.trace(payment.reference);
    if (traced) {
      await sql`update payments set poll_url = ${traced.pollUrl}, updated_at = now() where id = ${paymentId}`;
      report = { source: "trace", status: traced };
    }
  }
  // Most polls find the payment still pending: record that and schedule the next poll in one
  // statement instead of a transaction, a schedule update and their round trips (thousands of
  // payments can come due at once). Anything else takes the full path below.
  if (report && OUTCOME_TO_STATUS[report.status.outcome] === payment.status) {
    const next = await recordUnchangedPoll(sql, row, report);
    if (next) {
      await queueNextPoll(deps, paymentId, next);
      return payment;
    }
  }
  if (report) payment = await applyStatus(deps, paymentId, report);
  if (isFinal(payment.status)) return payment;

  if (payment.expiresAt.getTime() <= Date.now()) {
    const [expired] = await sql.begin(async (tx) => {
      const [r] = await tx`select status from payments where id = ${paymentId} for update`;
      if (isFinal(r.status)) return await tx`select * from payments where id = ${paymentId}`;
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
    await announce(deps, payment, null);
    return payment;
  }

  const [scheduled] = await sql<NextPoll[]>`
    update payments set poll_count = poll_count + 1,
      next_poll_at = least(now() + ${
    pollDelaySeconds(row.poll_count + 1)
  } * interval '1 second', expires_at),
      updated_at = now()
    where id = ${paymentId} and status in ('created', 'sent')
    returning poll_count, next_poll_at`;
  if (scheduled) await queueNextPoll(deps, paymentId, scheduled);
  return payment;
}

interface NextPoll {
  poll_count: number;
  next_poll_at: Date;
}

/**
 * A poll that changed nothing: its answer recorded and the next poll scheduled, in one
 * statement, only while the payment is still in the status the poll was read against and not
 * yet expired (null otherwise: the caller then applies the answer the full way).
 */
async function recordUnchangedPoll(
  sql: Sql,
  row: Record<string, unknown>,
  report: StatusReport,
): Promise<NextPoll | null> {
  const [next] = await sql<NextPoll[]>`
    with scheduled as (
      update payments set poll_count = poll_count + 1,
        next_poll_at = least(now() + ${
    pollDelaySeconds(Number(row.poll_count) + 1)
  } * interval '1 second', expires_at),
        updated_at = now()
      where id = ${row.id as string} and status = ${row.status as string} and expires_at > now()
      returning id, status, poll_count, next_poll_at
    ), recorded as (
      insert into payment_events (payment_id, source, raw, paynow_status, status_from, note)
      select id, ${report.source}, ${report.status.message.raw}, ${report.status.status}, status,
             'no change'
      from scheduled
    )
    select poll_count, next_poll_at from scheduled`;
  return next ?? null;
}

async function queueNextPoll(deps: PaymentDeps, paymentId: string, next: NextPoll) {
  await deps.jobs.enqueue(paymentPollJob, { paymentId }, {
    delay: Math.max(0, next.next_poll_at.getTime() - Date.now()),
    dedupeKey: `${paymentId}:${next.poll_count}`,
  });
}

/**
 * For the jobs reconciler: pending payments whose poll is overdue (its job was lost), claimed by
 * pushing their due time forward so another instance does not take them too.
 */
export async function claimOverduePolls(sql: Sql, graceSeconds = 30): Promise<string[]> {
  const rows = await sql`
    update payments set next_poll_at = now() + interval '2 minutes'
    where id in (select id from payments
                 where status in ('created', 'sent')
                   and next_poll_at < now() - ${graceSeconds} * interval '1 second'
                 order by next_poll_at limit 500 for update skip locked)
    returning id`;
  return rows.map((r) => r.id as string);
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
  if (!reference) return null;
  const [row] = await sql`select * from payments where reference = ${reference}`;
  if (!row) return null;
  const payment = toPayment(row);
  const client = gateway.clients[payment.currency];
  if (!client) return null;
  return { payment, status: client.parseResultPost(body) };
}
