/**
 * Paynow polling (lib/payments):
 * - `payments.poll_due`: a tick of the schedule; claims the payments whose poll is due and polls
 *   them in batches. Its reconcile sweep queues a tick when polls are overdue (a lost tick, a
 *   batch that died with its process): the due time of every pending payment is in Postgres
 *   (`payments.next_poll_at`).
 * - `payments.poll`: polls one payment now (a result POST to confirm; messages queued before
 *   polls were batched).
 */
import { defineHandler } from "../lib/jobs/types.ts";
import { paymentPollDueJob, paymentPollJob } from "../lib/payments/jobs.ts";
import type { Payments } from "../lib/payments/model.ts";
import { hasOverduePolls, pollDuePayments, pollPayment } from "../lib/payments/poll.ts";

export const paymentsPollDueHandler = (payments: Payments) =>
  defineHandler(paymentPollDueJob, async ({ at }) => {
    await pollDuePayments(payments, { at });
  }, {
    async reconcile(ctx) {
      if (!(await hasOverduePolls(ctx.db.sql))) return [];
      const at = Date.now();
      return [{ payload: { at }, dedupeKey: `reconciled:${Math.floor(at / 60_000)}` }];
    },
  });

export const paymentsPollHandler = (payments: Payments) =>
  defineHandler(paymentPollJob, async ({ paymentId }) => {
    await pollPayment(payments, paymentId);
  });
