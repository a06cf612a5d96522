/**
 * Following a payment to its end: what Paynow says about it (a poll, a trace, a result POST
 * confirmed by a poll) is applied here, in one transaction with its record and, on `paid`, the
 * credit.
 *
 * Transitions only move forward (`created → sent → paid | cancelled | failed | expired`). Every
 * message from Paynow is recorded raw in `payment_events` with the transition it caused.
 * Reaching `paid` credits the package's tokens through the ledger, in the same transaction as
 * the status change, with the payment as the idempotency key: however many result POSTs and
 * polls report "Paid", one credit. A late "Cancelled" after "Paid" takes nothing back (it is
 * flagged for an admin); an amount that differs from the package is flagged and not credited.
 */
import type { Sql } from "../db/mod.ts";
import { AppError } from "../errors.ts";
import { formatAmount, type PaynowOutcome, type PaynowStatus } from "../paynow/mod.ts";
import { postInTransaction } from "../wallet/ledger.ts";
import { announce } from "./events.ts";
import {
  type Payment,
  type PaymentDeps,
  type PaymentEventRecord,
  type PaymentRow,
  type PaynowGateway,
  recordEvent,
  toPayment,
} from "./model.ts";
import { isFinal, type PaymentFlag, type PaymentStatus } from "./vocabulary.ts";

/** The status each of Paynow's outcomes moves a payment to (none: recorded, nothing moves). */
export const OUTCOME_TO_STATUS: Partial<Record<PaynowOutcome, PaymentStatus>> = {
  paid: "paid",
  pending: "sent",
  cancelled: "cancelled",
  failed: "failed",
};

/** How far along each status is: a transition never goes back. */
const RANK: Record<PaymentStatus, number> = {
  created: 0,
  sent: 1,
  paid: 2,
  cancelled: 2,
  failed: 2,
  expired: 2,
};

export interface StatusReport {
  source: "poll" | "result" | "trace";
  status: PaynowStatus;
}

type SettleDeps = Pick<PaymentDeps, "db" | "log">;

/**
 * Applies what Paynow said about a payment: the transition (forward only), its record, and on
 * `paid` the credit, all in one transaction. Returns the payment after it.
 */
export async function applyStatus(
  deps: SettleDeps,
  paymentId: string,
  report: StatusReport,
): Promise<Payment> {
  const { status: s } = report;
  const target = OUTCOME_TO_STATUS[s.outcome];
  let credited: { balance: number } | null = null;
  // Whether the user has anything to hear: a pending payment polled every few seconds would
  // otherwise publish an unchanged `payment.updated` on every poll.
  let changed = false;
  const payment = await deps.db.sql.begin(async (tx): Promise<PaymentRow> => {
    const [row] = await tx<PaymentRow[]>`select * from payments where id = ${paymentId} for update`;
    if (!row) throw new AppError("not_found", "This payment does not exist.");
    const current = row.status;
    const event: PaymentEventRecord = {
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
      const lateFlag: PaymentFlag | null =
        current === "paid" && (target === "cancelled" || target === "failed")
          ? (/refund/i.test(s.status) ? "refunded_after_paid" : "cancelled_after_paid")
          : null;
      await recordEvent(tx, paymentId, {
        ...event,
        note: lateFlag ? `flagged: ${lateFlag}` : "already final",
      });
      if (lateFlag && !row.flag) {
        changed = true;
        const [flagged] = await tx<PaymentRow[]>`
          update payments set flag = ${lateFlag}, updated_at = now()
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
      const [updated] = await tx<PaymentRow[]>`
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
      const [flagged] = await tx<PaymentRow[]>`
        update payments set status = 'paid', flag = 'amount_mismatch', next_poll_at = null,
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
    const [paid] = await tx<PaymentRow[]>`
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

/**
 * Ends a payment that was not settled before its deadline (`expired`), unless it reached a final
 * status meanwhile. Returns the payment after.
 */
export async function expirePayment(deps: SettleDeps, paymentId: string): Promise<Payment> {
  let changed = false;
  const [row] = await deps.db.sql.begin(async (tx) => {
    const [current] = await tx<Pick<PaymentRow, "status">[]>`
      select status from payments where id = ${paymentId} for update`;
    if (isFinal(current.status)) {
      return await tx<PaymentRow[]>`select * from payments where id = ${paymentId}`;
    }
    changed = true;
    await recordEvent(tx, paymentId, {
      source: "expiry",
      from: current.status,
      to: "expired",
      note: "not settled in time",
    });
    return await tx<PaymentRow[]>`
      update payments set status = 'expired', next_poll_at = null, settled_at = now(),
        updated_at = now()
      where id = ${paymentId} returning *`;
  });
  const payment = toPayment(row);
  if (changed) await announce(deps, payment, null);
  return payment;
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
  const [row] = await sql<PaymentRow[]>`select * from payments where reference = ${reference}`;
  if (!row) return null;
  const payment = toPayment(row);
  const client = gateway.clients[payment.currency];
  if (!client) return null;
  return { payment, status: client.parseResultPost(body) };
}
