/** The job that polls Paynow for a payment's status (handler: jobs/payments_poll.ts). */
import { z } from "zod";
import { jobType } from "../jobs/types.ts";

export const paymentPollJob = jobType({
  name: "payments.poll",
  schema: z.object({ paymentId: z.uuid() }),
  lane: "payments",
  // A failed poll (Paynow unreachable) is retried quickly; the schedule itself lives in
  // `payments.next_poll_at`, so even a dead-lettered poll is picked up by the reconciler.
  retry: { maxAttempts: 4, backoffMs: [2_000, 5_000, 15_000] },
});

/** Seconds between polls: quick at first (most EcoCash payments settle within a minute). */
export const POLL_SCHEDULE_SECONDS = [5, 10, 15, 30];
export const POLL_STEADY_SECONDS = 60;

export function pollDelaySeconds(pollCount: number): number {
  return POLL_SCHEDULE_SECONDS[pollCount] ?? POLL_STEADY_SECONDS;
}
