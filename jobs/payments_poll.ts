/**
 * `payments.poll`: asks Paynow where a pending payment stands and queues the next poll
 * (lib/payments). Its reconcile sweep resumes polls whose job was lost: the due time of every
 * pending payment is in Postgres (`payments.next_poll_at`).
 */
import { defineHandler } from "../lib/jobs/types.ts";
import { paymentPollJob } from "../lib/payments/jobs.ts";
import { claimOverduePolls, type PaymentDeps, pollPayment } from "../lib/payments/payments.ts";

export const paymentsPollHandler = (deps: () => PaymentDeps) =>
  defineHandler(paymentPollJob, async ({ paymentId }) => {
    await pollPayment(deps(), paymentId);
  }, {
    async reconcile(ctx) {
      const ids = await claimOverduePolls(ctx.db.sql);
      return ids.map((paymentId) => ({
        payload: { paymentId },
        dedupeKey: `${paymentId}:reconciled:${Math.floor(Date.now() / 60_000)}`,
      }));
    },
  });
