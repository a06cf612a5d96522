/**
 * The words of payments, each list written once: the TypeScript types are derived from these
 * lists, zod validates with `z.enum(LIST)` wherever a value comes in, and the SQL CHECKs of
 * migrations/0003_payments.sql list the same values (vocabulary_test.ts compares them).
 *
 * Imports nothing but Paynow's method names, so browser code (islands/) may import it too.
 */
import { EXPRESS_METHODS, type ExpressMethod } from "../paynow/methods.ts";

/** `created → sent → paid | cancelled | failed | expired`; transitions only move forward. */
export const PAYMENT_STATUSES = [
  "created",
  "sent",
  "paid",
  "cancelled",
  "failed",
  "expired",
] as const;
export type PaymentStatus = typeof PAYMENT_STATUSES[number];

/** Still waiting for Paynow: polled on a schedule. */
export const PENDING_STATUSES = ["created", "sent"] as const satisfies readonly PaymentStatus[];
/** Where a payment ends; nothing moves it on (a late message is only recorded, or flagged). */
export const FINAL_STATUSES = [
  "paid",
  "cancelled",
  "failed",
  "expired",
] as const satisfies readonly PaymentStatus[];
export type FinalStatus = typeof FINAL_STATUSES[number];

export const isFinal = (status: PaymentStatus): status is FinalStatus =>
  (FINAL_STATUSES as readonly PaymentStatus[]).includes(status);

export { EXPRESS_METHODS, type ExpressMethod };
/** `web`: Paynow's page (card, bank, wallets); the others push a prompt to the payer's phone. */
export const PAYMENT_METHODS = ["web", ...EXPRESS_METHODS] as const;
export type PaymentMethod = typeof PAYMENT_METHODS[number];

/** How each method is called where a person reads it. */
export const METHOD_NAMES: Record<PaymentMethod, string> = {
  web: "Paynow website (card, bank, wallets)",
  ecocash: "EcoCash",
  onemoney: "OneMoney",
  innbucks: "InnBucks",
};

/** How each status is called where a payer reads it (the account's payment history). */
export const STATUS_NAMES: Record<PaymentStatus, string> = {
  created: "Starting",
  sent: "Waiting for Paynow",
  paid: "Paid",
  cancelled: "Cancelled",
  failed: "Failed",
  expired: "Expired",
};

/** A currency is offered only when its Paynow integration is configured. */
export const CURRENCIES = ["USD", "ZiG"] as const;
export type Currency = typeof CURRENCIES[number];

/** What an admin is asked to look at: money that did not match, or came back after `paid`. */
export const PAYMENT_FLAGS = [
  "amount_mismatch",
  "cancelled_after_paid",
  "refunded_after_paid",
] as const;
export type PaymentFlag = typeof PAYMENT_FLAGS[number];

/** Where a recorded message about a payment (`payment_events.source`) came from. */
export const PAYMENT_EVENT_SOURCES = [
  "initiate",
  "poll",
  "result",
  "trace",
  "expiry",
  "admin",
] as const;
export type PaymentEventSource = typeof PAYMENT_EVENT_SOURCES[number];
