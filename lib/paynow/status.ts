/**
 * What a Paynow status string means for our payment machine
 * (`created → sent → paid | cancelled | failed | expired`).
 *
 * Paynow's values are compared case-insensitively (old integrations capitalise differently).
 * `pending` leaves the payment where it is (`created`/`sent`); `expired` is ours alone: Paynow
 * never says it, the poll schedule decides it when the window closes.
 */

/** The outcome of a Paynow status for our machine. `unknown`: keep polling and log it. */
export type PaynowOutcome = "paid" | "pending" | "cancelled" | "failed" | "unknown";

const OUTCOMES: Readonly<Record<string, Exclude<PaynowOutcome, "unknown">>> = {
  // Money received. "Awaiting Delivery"/"Delivered" are Paynow's goods-delivery steps after
  // payment: the customer has paid either way.
  "paid": "paid",
  "awaiting delivery": "paid",
  "delivered": "paid",
  // Nothing decided yet. "Created but not paid" is an abandoned checkout as long as it is not
  // final for Paynow; our expiry window turns it into `expired`.
  "created": "pending",
  "sent": "pending",
  "awaiting redirect": "pending",
  "created but not paid": "pending",
  "cancelled": "cancelled",
  // Final and not (or no longer) paid. Disputed (a chargeback being investigated) and Refunded
  // (money returned to the payer) mean the merchant does not keep the money, so they count as
  // failed. They normally arrive after Paid: the machine's transitions are monotonic, so a paid
  // payment stays paid and keeps its tokens; the late status is recorded and flagged for an
  // admin rather than silently taking tokens back.
  "failed": "failed",
  "disputed": "failed",
  "refunded": "failed",
};

/** Maps a Paynow status string (`"Paid"`, `"awaiting delivery"`, `"Cancelled"` ...). */
export function paynowOutcome(status: string): PaynowOutcome {
  return OUTCOMES[status.trim().replace(/\s+/g, " ").toLowerCase()] ?? "unknown";
}

/** Whether Paynow will not change its mind about this outcome by itself. */
export function isFinalOutcome(outcome: PaynowOutcome): boolean {
  return outcome === "paid" || outcome === "cancelled" || outcome === "failed";
}
