/**
 * A payment as the code sees it, the row it is read from (`toPayment`, the one mapping of the
 * `payments` table), the reads every part of the domain shares, and what the domain is built
 * from (`createPayments`).
 */
import pLimit, { type LimitFunction } from "p-limit";
import type { Channel } from "../channels.ts";
import type { Database, Sql } from "../db/mod.ts";
import { type ColumnsOf, fieldsOf } from "../db/rows.ts";
import type { Enqueuer } from "../jobs/types.ts";
import type { Logger } from "../observability/log.ts";
import type { PaynowClient } from "../paynow/mod.ts";
import type { Tx } from "../wallet/ledger.ts";
import {
  CURRENCIES,
  type Currency,
  type PaymentEventSource,
  type PaymentFlag,
  type PaymentMethod,
  type PaymentStatus,
} from "./vocabulary.ts";

export interface Payment {
  id: string;
  userId: string;
  packageId: string;
  tokens: number;
  currency: Currency;
  amount: string;
  method: PaymentMethod;
  phone: string | null;
  channel: Channel;
  reference: string;
  status: PaymentStatus;
  browserUrl: string | null;
  instructions: string | null;
  error: string | null;
  flag: PaymentFlag | null;
  credited: boolean;
  expiresAt: Date;
  createdAt: Date;
  settledAt: Date | null;
}

/** A row of `payments` as postgres.js returns it (bigint as a string, numeric as a string). */
export type PaymentRow = ColumnsOf<Omit<Payment, "tokens" | "credited">> & {
  tokens: string;
  idempotency_key: string | null;
  paynow_reference: string | null;
  poll_url: string | null;
  credited_entry_id: string | null;
  poll_count: number;
  next_poll_at: Date | null;
  updated_at: Date;
};

export function toPayment(row: PaymentRow): Payment {
  return {
    ...fieldsOf(row, ["id", "user_id", "package_id"]),
    tokens: Number(row.tokens),
    ...fieldsOf(row, [
      "currency",
      "amount",
      "method",
      "phone",
      "channel",
      "reference",
      "status",
      "browser_url",
      "instructions",
      "error",
      "flag",
    ]),
    credited: row.credited_entry_id !== null,
    ...fieldsOf(row, ["expires_at", "created_at", "settled_at"]),
  };
}

/** The Paynow side: one client per configured currency. */
export interface PaynowGateway {
  clients: Partial<Record<Currency, PaynowClient>>;
  /** Merchant e-mail (required for express checkout). */
  authEmail: string;
}

export const offeredCurrencies = (gateway: PaynowGateway): Currency[] =>
  CURRENCIES.filter((c) => gateway.clients[c]);

/** What the payments domain is built from. */
export interface PaymentDeps {
  db: Database;
  /** Where polls are queued (the job queue). */
  jobs: Enqueuer;
  log: Logger;
  paynow: PaynowGateway;
  /**
   * The app's public base URL, for Paynow's return and result URLs. Read when a payment starts:
   * a server started on PORT=0 learns it only once it listens.
   */
  publicUrl: () => string;
}

/** Paynow requests in flight per process and Paynow integration set (keep-alive connections). */
export const POLL_IN_FLIGHT = 256;

/** The payments domain as the app holds it: its dependencies and the state it owns. */
export interface Payments extends PaymentDeps {
  /** Bounds the Paynow requests this process has in flight ({@link POLL_IN_FLIGHT}). */
  readonly paynowRequests: LimitFunction;
}

/**
 * @example
 * const payments = createPayments({ db, jobs: queue, log, paynow, publicUrl: () => url });
 * const payment = await startPayment(payments, { userId, packageId, method: "ecocash", phone });
 */
export function createPayments(deps: PaymentDeps): Payments {
  return { ...deps, paynowRequests: pLimit(POLL_IN_FLIGHT) };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** One payment by id; null when there is none (or `id` is not a UUID). */
export async function getPayment(sql: Sql, id: string): Promise<Payment | null> {
  if (!UUID.test(id)) return null;
  const [row] = await sql<PaymentRow[]>`select * from payments where id = ${id}`;
  return row ? toPayment(row) : null;
}

export async function getPaymentForUser(
  sql: Sql,
  userId: string,
  id: string,
): Promise<Payment | null> {
  if (!UUID.test(id)) return null;
  const [row] = await sql<PaymentRow[]>`select * from payments
                                        where id = ${id} and user_id = ${userId}`;
  return row ? toPayment(row) : null;
}

export async function listPaymentsForUser(
  sql: Sql,
  userId: string,
  options: { limit?: number; before?: Date } = {},
): Promise<Payment[]> {
  const limit = Math.min(Math.max(options.limit ?? 20, 1), 100);
  const rows = await sql<PaymentRow[]>`select * from payments where user_id = ${userId}
                           and created_at < ${options.before ?? new Date("9999-01-01")}
                         order by created_at desc limit ${limit}`;
  return rows.map(toPayment);
}

/** What happened to a payment, recorded in `payment_events` (Paynow's raw message included). */
export interface PaymentEventRecord {
  source: PaymentEventSource;
  raw?: string | null;
  paynowStatus?: string | null;
  from?: PaymentStatus;
  to?: PaymentStatus;
  note?: string;
}

export async function recordEvent(tx: Tx, paymentId: string, e: PaymentEventRecord) {
  await tx`insert into payment_events (payment_id, source, raw, paynow_status, status_from, status_to, note)
           values (${paymentId}, ${e.source}, ${e.raw ?? null}, ${e.paynowStatus ?? null},
                   ${e.from ?? null}, ${e.to ?? null}, ${e.note ?? null})`;
}
