/**
 * The jobs that poll Paynow for pending payments (handlers: jobs/payments_poll.ts).
 *
 * Polls are batched: `payments.poll_due` is a tick that claims every payment whose poll is due
 * (`payments.next_poll_at`) in batches and polls each batch at once. A payment scheduled for a
 * poll queues the tick of its due time (a 100 ms slot, deduplicated), so payments due together
 * share one job. Postgres keeps the schedule; the reconciler queues a tick when polls are overdue.
 */
import { z } from "zod";
import type { Enqueuer } from "../jobs/types.ts";
import { jobType } from "../jobs/types.ts";

export const paymentPollDueJob = jobType({
  name: "payments.poll_due",
  // `at`: the tick's slot (ms since the epoch); payments due up to then are claimed even if the
  // database's clock is a little behind this process's.
  schema: z.object({ at: z.number().int().nonnegative() }),
  lane: "payments",
  // A failed poll is rescheduled in Postgres by the batch itself; a failed tick (database
  // unreachable) is retried, and the reconciler queues another one when polls are overdue.
  retry: { maxAttempts: 4, backoffMs: [2_000, 5_000, 15_000] },
});

/**
 * The poll of one payment, as queued before polls were batched. Messages of this kind may still
 * wait in a KV queue: they are handled by polling whatever is due.
 */
export const paymentPollJob = jobType({
  name: "payments.poll",
  schema: z.object({ paymentId: z.uuid() }),
  lane: "payments",
  retry: { maxAttempts: 4, backoffMs: [2_000, 5_000, 15_000] },
});

/** Seconds between polls: quick at first (most EcoCash payments settle within a minute). */
export const POLL_SCHEDULE_SECONDS = [5, 10, 15, 30];
export const POLL_STEADY_SECONDS = 60;

export function pollDelaySeconds(pollCount: number): number {
  return POLL_SCHEDULE_SECONDS[pollCount] ?? POLL_STEADY_SECONDS;
}

/** Payments due within one slot share a tick (so a tick is at most this late by design). */
export const POLL_TICK_MS = 100;

/** The slot of a due time: the end of its 100 ms window. */
export const pollTickAt = (dueAt: Date | number) =>
  Math.ceil(new Date(dueAt).getTime() / POLL_TICK_MS) * POLL_TICK_MS;

/**
 * How long before its slot a tick is delivered: it claims its payments meanwhile (the database's
 * share of the work), so their polls go out when due, not after the claiming of thousands that
 * fell due together. Also absorbs the queue's own lateness.
 */
export const POLL_CLAIM_AHEAD_MS = 1_500;

/**
 * Queues the tick that polls payments due at `dueAt` (one job per slot, however many payments
 * are due in it), delivered {@link POLL_CLAIM_AHEAD_MS} ahead of the slot.
 */
export async function queuePollTick(jobs: Enqueuer, dueAt: Date | number): Promise<void> {
  const at = pollTickAt(dueAt);
  const delay = Math.max(0, at - POLL_CLAIM_AHEAD_MS - Date.now());
  await jobs.enqueue(paymentPollDueJob, { at }, {
    delay,
    dedupeKey: `tick:${at}`,
    dedupeTtlMs: delay + 3_600_000,
  });
}
