/**
 * The reconciler's tick on each instance: every 10–15 s (a random wait each time, so instances
 * do not sweep together) every job type's sweep looks for recorded work whose job is overdue —
 * lost with a KV file, or with an instance that died — and queues it again here
 * ({@link JobQueue.reconcile}). Each sweep claims what it takes, so instances ticking at once do
 * not both take the same work. With short leases (lib/jobs/lease.ts), a dead
 * instance's work resumes on a live one within a minute.
 */
import type { JobQueue } from "./queue.ts";
import type { Logger } from "../observability/log.ts";

export const RECONCILE_EVERY_MS = { min: 10_000, max: 15_000 };

export interface ReconcilerTick {
  /** Stops the ticking and waits for a sweep in progress. */
  stop(): Promise<void>;
}

/**
 * @example
 * const tick = startReconciler(queue, log);
 * await tick.stop();
 */
export function startReconciler(
  queue: Pick<JobQueue, "reconcile">,
  log: Logger,
  every = RECONCILE_EVERY_MS,
): ReconcilerTick {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sweeping: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const next = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      // Each job type's failure is counted and logged by the queue; this only keeps ticking.
      sweeping = queue.reconcile()
        .catch((error) => log.error("reconciler tick failed", { error }))
        .finally(next);
    }, every.min + Math.random() * (every.max - every.min));
  };
  next();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await sweeping;
    },
  };
}
