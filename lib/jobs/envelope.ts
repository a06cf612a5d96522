/**
 * How jobs travel in Deno KV: the message formats (a pack of jobs, or one job from before packs),
 * the keys the queue keeps beside them (dedupe keys, settlement markers, backlog counters), and
 * the one way a pack is put on the queue. The queue (queue.ts) and the writer (writer.ts) share it.
 */

/** How long a settled job's marker is kept (a redelivery later than this runs it again). */
export const DONE_TTL_MS = 7 * 24 * 3600 * 1000;
/** KV's own redelivery schedule for messages whose handler never returned (crash). */
const KV_SAFETY_BACKOFF = [1_000, 5_000, 30_000, 60_000, 300_000];

/** One job inside a KV message. `id` is the job's identity across its attempts. */
export interface JobEntry {
  id: string;
  job: string;
  payload: unknown;
  attempt: number;
  enqueuedAt: number;
}

/** v1: one job per message. Still delivered: messages queued before packs may be waiting. */
interface EnvelopeV1 extends JobEntry {
  v: 1;
}

/** v2: a pack of jobs, acknowledged once every job in it is settled. */
interface EnvelopeV2 {
  v: 2;
  pack: string;
  jobs: JobEntry[];
}

export const K = {
  dedupe: (job: string, key: string) => ["jobs", "dedupe", job, key],
  /**
   * A job's settlement marker: `true` once it succeeded or was dead-lettered; a number `n` once
   * its attempts up to `n` failed and the next one was queued. A redelivered message skips every
   * job whose marker covers its attempt (so a pack redelivered after a crash neither re-runs its
   * finished jobs nor starts a second retry chain for a job already handed to its retry).
   */
  done: (id: string) => ["jobs", "done", id],
  enqueued: ["jobs", "count", "enqueued"],
  finished: ["jobs", "count", "finished"],
  undelivered: (id: string) => ["jobs", "undelivered", id],
};

export function settles(marker: unknown, attempt: number): boolean {
  return marker === true || (typeof marker === "number" && marker >= attempt);
}

/** Reads a queued message of either format; null for a shape we do not know. */
export function unpack(message: unknown): JobEntry[] | null {
  const m = message as { v?: unknown; jobs?: unknown } & Partial<JobEntry> | null;
  const valid = (e: Partial<JobEntry> | null | undefined) =>
    !!e && typeof e.id === "string" && typeof e.job === "string" &&
    typeof e.attempt === "number";
  if (m?.v === 1 && valid(m)) return [m as EnvelopeV1];
  if (m?.v === 2 && Array.isArray(m.jobs) && m.jobs.length > 0 && m.jobs.every(valid)) {
    return m.jobs as JobEntry[];
  }
  return null;
}

/** Adds to `op` one message carrying `jobs`, delivered after `delay` ms. */
export function enqueuePack(op: Deno.AtomicOperation, jobs: JobEntry[], delay: number): void {
  const pack = crypto.randomUUID();
  const envelope: EnvelopeV2 = { v: 2, pack, jobs };
  op.enqueue(envelope, {
    delay,
    backoffSchedule: KV_SAFETY_BACKOFF,
    keysIfUndelivered: [K.undelivered(pack)],
  });
}
