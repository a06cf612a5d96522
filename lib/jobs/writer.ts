/**
 * The enqueue side of the job queue: a payload checked against its job's schema, then jobs
 * committed to KV in as few atomic commits and messages as fit KV's limits, each dedupe key
 * claimed in the same commit as its job.
 *
 * Pack bounds. KV refuses a message over 64 KiB and an atomic commit over 800 KiB or 1,000
 * mutations or 100 checks. Sizes are estimated from the JSON length of each job; a character can
 * take two bytes in KV's serialisation, hence the margin. A job too large to share a message
 * travels alone (and fails at the commit if it is over KV's limit).
 */
import type { JobMetrics } from "../observability/metrics.ts";
import { enqueuePack, type JobEntry, K } from "./envelope.ts";
import type { EnqueueOptions, JobType, Lane } from "./types.ts";

const MAX_DELAY_MS = 30 * 24 * 3600 * 1000;
const DEFAULT_DEDUPE_TTL_MS = 24 * 3600 * 1000;
const PACK_MAX_JOBS = 400;
export const PACK_MAX_CHARS = 24_000;
const COMMIT_MAX_CHARS = 300_000;
const COMMIT_MAX_MESSAGES = 400;
/** Dedupe keys checked in one commit (each is a check and a set). */
const COMMIT_MAX_DEDUPE = 50;

export class JobValidationError extends Error {
  override name = "JobValidationError";
}

/** A job validated and waiting for its commit. */
export interface Queued {
  entry: JobEntry;
  lane: Lane;
  delay: number;
  dedupeKey?: string;
  dedupeTtlMs: number;
  /** JSON length of the entry: its share of a message's and a commit's size. */
  chars: number;
}

/**
 * What became of one job handed to `enqueue`/`enqueueMany`. `invalid`: `enqueueMany` refused its
 * payload (the reason); it was not queued but recorded as a dead letter with the id `id`.
 */
export type EnqueueResult = { id: string; deduplicated: boolean; invalid?: string };

/** Checks `item` against its job type; throws {@link JobValidationError} naming the problem. */
export function validateJob(type: JobType, item: { payload: unknown } & EnqueueOptions): Queued {
  const parsed = type.schema.safeParse(item.payload);
  if (!parsed.success) {
    throw new JobValidationError(
      `${type.name}: invalid payload: ` +
        parsed.error.issues.map((i) => `${i.path.join(".") || "payload"}: ${i.message}`)
          .join("; "),
    );
  }
  const delay = item.delay ?? 0;
  if (!(delay >= 0 && delay <= MAX_DELAY_MS)) {
    throw new JobValidationError(`${type.name}: delay must be between 0 and 30 days`);
  }
  const entry: JobEntry = {
    id: crypto.randomUUID(),
    job: type.name,
    payload: parsed.data,
    attempt: 1,
    enqueuedAt: Date.now(),
  };
  return {
    entry,
    lane: type.lane,
    delay,
    dedupeKey: item.dedupeKey,
    dedupeTtlMs: item.dedupeTtlMs ?? DEFAULT_DEDUPE_TTL_MS,
    chars: JSON.stringify(entry).length,
  };
}

/** Writes validated jobs to KV (one per app instance, beside its queue). */
export class JobWriter {
  constructor(
    private readonly kv: Deno.Kv,
    private readonly metrics: JobMetrics,
  ) {}

  /** Commits validated jobs; results in the order given. */
  async write(all: Queued[]): Promise<EnqueueResult[]> {
    const results = new Array<EnqueueResult>(all.length);
    // A dedupe key repeated within the batch: the first holder competes for it in KV, the
    // others are duplicates of whatever that one turns out to be.
    const holders = new Map<string, number>();
    const repeats: [index: number, holder: number][] = [];
    const plain: number[] = [];
    const deduped: number[] = [];
    all.forEach((q, i) => {
      if (q.dedupeKey === undefined) return plain.push(i);
      const name = JSON.stringify([q.entry.job, q.dedupeKey]);
      const holder = holders.get(name);
      if (holder === undefined) {
        holders.set(name, i);
        deduped.push(i);
      } else repeats.push([i, holder]);
    });

    for (const group of this.#commitGroups(plain.map((i) => all[i]))) {
      await this.#commit(group, false);
    }
    for (const i of plain) results[i] = { id: all[i].entry.id, deduplicated: false };

    for (let from = 0; from < deduped.length; from += COMMIT_MAX_DEDUPE) {
      const chunk = deduped.slice(from, from + COMMIT_MAX_DEDUPE);
      const groups = this.#commitGroups(chunk.map((i) => all[i]));
      // All keys free (the usual case): one commit for the chunk. Otherwise each job competes
      // for its key alone, so one taken key does not refuse the others.
      if (groups.length === 1 && await this.#commit(groups[0], true)) {
        for (const i of chunk) results[i] = { id: all[i].entry.id, deduplicated: false };
        continue;
      }
      for (const i of chunk) {
        if (await this.#commit([all[i]], true)) {
          results[i] = { id: all[i].entry.id, deduplicated: false };
        } else {
          const existing = await this.kv.get<string>(
            K.dedupe(all[i].entry.job, all[i].dedupeKey!),
          );
          results[i] = { id: existing.value ?? all[i].entry.id, deduplicated: true };
        }
      }
    }
    for (const [i, holder] of repeats) results[i] = { id: results[holder].id, deduplicated: true };
    return results;
  }

  /** Splits jobs into lists that each fit one atomic commit. */
  #commitGroups(jobs: Queued[]): Queued[][] {
    const groups: Queued[][] = [];
    let group: Queued[] = [];
    let chars = 0;
    for (const q of jobs) {
      if (group.length > 0 && (chars + q.chars > COMMIT_MAX_CHARS || group.length >= 2_000)) {
        groups.push(group);
        group = [];
        chars = 0;
      }
      group.push(q);
      chars += q.chars;
    }
    if (group.length > 0) groups.push(group);
    return groups;
  }

  /**
   * One atomic commit: the jobs packed into messages per lane and delay, their dedupe keys
   * claimed (`dedupe`), the backlog counter. Returns false when a dedupe key was taken (nothing
   * is then queued).
   */
  async #commit(jobs: Queued[], dedupe: boolean): Promise<boolean> {
    const op = this.kv.atomic();
    if (dedupe) {
      for (const q of jobs) {
        const key = K.dedupe(q.entry.job, q.dedupeKey!);
        op.check({ key, versionstamp: null }).set(key, q.entry.id, { expireIn: q.dedupeTtlMs });
      }
    }
    const packs = this.#pack(jobs);
    if (packs.length > COMMIT_MAX_MESSAGES) {
      // Only many distinct delays get here; split rather than exceed KV's mutation limit.
      const half = Math.ceil(jobs.length / 2);
      return await this.#commit(jobs.slice(0, half), dedupe) &&
        await this.#commit(jobs.slice(half), dedupe);
    }
    for (const pack of packs) enqueuePack(op, pack.jobs, pack.delay);
    op.sum(K.enqueued, BigInt(jobs.length));
    if (!(await op.commit()).ok) return false;
    const counts = new Map<string, number>();
    for (const q of jobs) counts.set(q.entry.job, (counts.get(q.entry.job) ?? 0) + 1);
    for (const [job, n] of counts) this.metrics.enqueued.inc({ job }, n);
    return true;
  }

  /** Groups jobs into messages: same lane and delay, within the size bounds. */
  #pack(jobs: Queued[]): { delay: number; jobs: JobEntry[] }[] {
    const open = new Map<string, { delay: number; jobs: JobEntry[]; chars: number }>();
    const packs: { delay: number; jobs: JobEntry[] }[] = [];
    for (const q of jobs) {
      const key = `${q.lane}:${q.delay}`;
      let pack = open.get(key);
      if (
        pack && (pack.jobs.length >= PACK_MAX_JOBS || pack.chars + q.chars > PACK_MAX_CHARS)
      ) {
        pack = undefined;
      }
      if (!pack) {
        pack = { delay: q.delay, jobs: [], chars: 0 };
        open.set(key, pack);
        packs.push(pack);
      }
      pack.jobs.push(q.entry);
      pack.chars += q.chars;
    }
    return packs;
  }
}
