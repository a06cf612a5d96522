/**
 * What the admin dashboard reads about payments, and "poll now": payments filtered by status,
 * method, currency, dates (days in the metrics time zone), reference or flag; one payment with
 * every raw message exchanged with Paynow (`payment_events`).
 */
import type { Row } from "postgres";
import type { Sql } from "../db/mod.ts";
import { notFound } from "../errors.ts";
import { dayBounds } from "../metrics/daily.ts";
import type { Payments } from "../payments/model.ts";
import { pollPayment } from "../payments/poll.ts";
import { isFinal, type PaymentStatus } from "../payments/vocabulary.ts";
import { type AdminActor, recordAudit } from "./audit.ts";
import { type Page, whereAll } from "./query.ts";

/** Empty strings and `false` mean "any". Days are `YYYY-MM-DD` in the metrics time zone. */
export interface PaymentFilters {
  status: string;
  method: string;
  currency: string;
  from: string;
  to: string;
  flagged: boolean;
  /** Our reference or Paynow's, exactly. */
  q: string;
}

export interface PaymentListRow {
  id: string;
  status: string;
  currency: string;
  amount: string;
  method: string;
  tokens: string;
  flag: string | null;
  reference: string;
  channel: string;
  created_at: Date;
  settled_at: Date | null;
  email: string | null;
  user_id: string;
}

/** Newest first; limit + 1 rows (the extra one says another page exists). */
export async function listPayments(
  sql: Sql,
  f: PaymentFilters,
  tz: string,
  page: Page,
): Promise<PaymentListRow[]> {
  const where = whereAll(sql, [
    f.status ? sql`p.status = ${f.status}` : null,
    f.method ? sql`p.method = ${f.method}` : null,
    f.currency ? sql`p.currency = ${f.currency}` : null,
    f.from ? sql`p.created_at >= ${(await dayBounds(sql, f.from, tz)).start}` : null,
    f.to ? sql`p.created_at < ${(await dayBounds(sql, f.to, tz)).end}` : null,
    f.flagged ? sql`p.flag is not null` : null,
    f.q ? sql`(p.reference = ${f.q} or p.paynow_reference = ${f.q})` : null,
  ]);
  return await sql<PaymentListRow[]>`
    select p.id, p.status, p.currency, p.amount, p.method, p.tokens, p.flag, p.reference,
           p.channel, p.created_at, p.settled_at, u.email, u.id as user_id
    from payments p join users u on u.id = p.user_id
    ${where}
    order by p.created_at desc
    limit ${page.limit + 1} offset ${page.offset}`;
}

/** One payment (every column, and its user's e-mail) with its Paynow messages, oldest first. */
export async function paymentDetail(
  sql: Sql,
  id: string,
): Promise<{ payment: Row; events: Row[]; polls: PollHistory } | null> {
  const [payment] = await sql`select p.*, u.email from payments p join users u on u.id = p.user_id
                              where p.id = ${id}`;
  if (!payment) return null;
  const events = await sql`select * from payment_events where payment_id = ${id} order by id`;
  return { payment, events, polls: pollHistory(events) };
}

/** How often Paynow was polled about a payment, and when last. */
export interface PollHistory {
  count: number;
  lastAt: Date | null;
}

/**
 * Read from the recorded answers, not `payments.poll_count`: that counts the polls that changed
 * nothing (it paces the schedule), so the poll that settled a payment is not in it.
 */
export function pollHistory(events: Row[]): PollHistory {
  const polls = events.filter((e) => e.source === "poll");
  const last = polls.at(-1);
  return { count: polls.length, lastAt: last ? new Date(last.created_at as string | Date) : null };
}

/**
 * Asks Paynow about a payment at once, through the same code as the polling schedule, and
 * audits it. `final`: nothing to ask; `paynow`: Paynow could not be asked (logged).
 */
export async function pollPaymentNow(
  deps: Payments,
  actor: AdminActor,
  id: string,
): Promise<"polled" | "final" | "paynow"> {
  const [row] = await deps.db.sql<{ status: PaymentStatus }[]>`
    select status from payments where id = ${id}`;
  if (!row) throw notFound("This payment");
  if (isFinal(row.status)) return "final";
  let after: string;
  try {
    after = (await pollPayment(deps, id)).status;
  } catch (error) {
    deps.log.warn("admin poll failed", { paymentId: id, error });
    return "paynow";
  }
  await recordAudit(deps.db.sql, actor, {
    action: "payment.poll",
    targetType: "payment",
    targetId: id,
    before: { status: row.status },
    after: { status: after },
  });
  return "polled";
}
