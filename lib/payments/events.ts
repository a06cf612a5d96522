/**
 * What payments tell the rest of the product, through the event hub (lib/events.ts):
 * - `payment.updated` and `wallet.updated` to the payer's screens (SSE), which the
 *   notifications domain also hears;
 * - `payment.settled`, a product event, when a payment reaches its end for the payer: paid and
 *   credited, or ended unpaid (cancelled, failed, expired) after it was started. Not for a
 *   payment Paynow refused at the start (whoever started it was told at once) nor for a paid
 *   amount flagged for an admin (nothing was credited). The WhatsApp channel reacts to it
 *   ("Payment received…").
 */
import { z } from "zod";
import { CHANNELS } from "../channels.ts";
import type { Database } from "../db/mod.ts";
import { type HubEvent, publish, publishProductEvent } from "../events.ts";
import type { Logger } from "../observability/log.ts";
import type { Payment } from "./model.ts";
import { CURRENCIES, FINAL_STATUSES, isFinal } from "./vocabulary.ts";

export const PAYMENT_SETTLED = "payment.settled";

export const PaymentSettled = z.object({
  id: z.uuid(),
  userId: z.uuid(),
  status: z.enum(FINAL_STATUSES),
  channel: z.enum(CHANNELS),
  tokens: z.number().int(),
  amount: z.string(),
  currency: z.enum(CURRENCIES),
  /** The payer's balance after the credit (paid); null when the payment ended unpaid. */
  balance: z.number().nullable(),
});
export type PaymentSettled = z.infer<typeof PaymentSettled>;

/** The settled payment a hub event carries; null for any other event. */
export function paymentSettledOf(event: HubEvent): PaymentSettled | null {
  if (event.type !== PAYMENT_SETTLED) return null;
  const parsed = PaymentSettled.safeParse(event.data);
  return parsed.success ? parsed.data : null;
}

/** Tells the payer's screens that the payment changed. */
export async function publishPaymentUpdated(db: Database, payment: Payment): Promise<void> {
  await publish(db, {
    userId: payment.userId,
    type: "payment.updated",
    data: { id: payment.id, status: payment.status, tokens: payment.tokens, flag: payment.flag },
  });
}

/**
 * Announces a change of status or flag: to the payer's screens, and to the product when the
 * payment was credited (`credited`: the balance after) or ended unpaid. Never throws: the change
 * is committed whatever becomes of its announcement.
 */
export async function announce(
  deps: { db: Database; log: Logger },
  payment: Payment,
  credited: { balance: number } | null,
): Promise<void> {
  try {
    await publishPaymentUpdated(deps.db, payment);
    if (credited) {
      await publish(deps.db, {
        userId: payment.userId,
        type: "wallet.updated",
        data: { balance: credited.balance, reason: "purchase", paymentId: payment.id },
      });
    }
    const ended = credited !== null || (isFinal(payment.status) && payment.status !== "paid");
    if (ended && isFinal(payment.status)) {
      const settled: PaymentSettled = {
        id: payment.id,
        userId: payment.userId,
        status: payment.status,
        channel: payment.channel,
        tokens: payment.tokens,
        amount: payment.amount,
        currency: payment.currency,
        balance: credited?.balance ?? null,
      };
      await publishProductEvent(deps.db, { type: PAYMENT_SETTLED, data: settled });
    }
  } catch (error) {
    deps.log.error("payment announcement failed", { paymentId: payment.id, error });
  }
}
