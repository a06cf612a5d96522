/**
 * The job runtime on Deno KV queues: typed enqueue, one `listenQueue` dispatcher per process
 * routing by job name, per-lane concurrency, retries with our own backoff, dead letters in
 * Postgres, idempotent redelivery, graceful stop.
 *
 * Why retries are ours rather than KV's `backoffSchedule`: KV allows ≤ 5 steps of ≤ 1 h and
 * tells us nothing when it gives up but a key. We catch a failed attempt, enqueue the next one
 * with its delay, and after the last attempt write the failure to `job_failures`, with its
 * error. KV's own backoff stays as the safety net for what we cannot catch: a process that dies
 * mid-handler leaves its message unacknowledged, and KV redelivers it after the restart.
 *
 * Why jobs travel in packs: local KV dequeues and acknowledges one message at a time on its one
 * SQLite thread, and that — not enqueueing, not our handlers — caps end-to-end throughput.
 * So jobs queued together (one `enqueueMany`, or `enqueue` calls made in the
 * same tick) share KV messages: one message per lane and delay carries a list of jobs, and it is
 * acknowledged once every job in it is settled. Each job keeps its own identity: its own
 * attempts, retry message, dedupe key, dead letter and completion marker. A failing job is
 * retried alone; the others of its pack are not run again.
 *
 * Facts of Deno KV this design follows: `listenQueue` does not wait for a
 * handler before delivering the next message, so each lane has its own limit (p-limit) and every
 * handler must be idempotent; a completed job's id is remembered so a redelivery skips it.
 */
import pLimit, { type LimitFunction } from "p-limit";
import type { z } from "zod";
import type { Database } from "../db/mod.ts";
import { publishProductEvent } from "../events.ts";
import type { Logger } from "../observability/log.ts";
import type { JobMetrics } from "../observability/metrics.ts";
import type { Config } from "../config.ts";
import { recordRefusedPayload } from "./dead_letters.ts";
import { DONE_TTL_MS, enqueuePack, type JobEntry, K, settles, unpack } from "./envelope.ts";
import {
  type EnqueueOptions,
  type JobContext,
  JobFailure,
  type JobHandler,
  type JobType,
  type Lane,
  LANE_CONCURRENCY,
  type NamedEnqueuer,
  retryDelayMs,
} from "./types.ts";
import {
  type EnqueueResult,
  JobValidationError,
  JobWriter,
  PACK_MAX_CHARS,
  type Queued,
  validateJob,
} from "./writer.ts";

export { type EnqueueResult, JobValidationError } from "./writer.ts";

/** Never settles: leaves a KV delivery unacknowledged, so it is redelivered after a restart. */
const NEVER = new Promise<void>(() => {});

/** How the reconciler has been doing: `consecutiveFailures` runs in a row had a sweep fail. */
export interface ReconcilerState {
  consecutiveFailures: number;
  lastError?: string;
}

/** A job of a coalesced `enqueue` call, with the caller waiting for it. */
interface Waiting {
  queued: Queued;
  resolve: (result: EnqueueResult) => void;
  reject: (error: unknown) => void;
}

export interface JobQueueOptions {
  kv: Deno.Kv;
  db: Database;
  log: Logger;
  config: Config;
  metrics: JobMetrics;
  /** The handlers; more may be added with `register` before `start`. */
  handlers?: JobHandler[];
  concurrency?: Partial<Record<Lane, number>>;
}

export class JobQueue implements NamedEnqueuer {
  readonly #kv: Deno.Kv;
  readonly #db: Database;
  readonly #log: Logger;
  readonly #metrics: JobMetrics;
  readonly #writer: JobWriter;
  readonly #handlers = new Map<string, JobHandler>();
  readonly #lanes: Record<Lane, LimitFunction>;
  readonly context: JobContext;
  #listening: Promise<void> | null = null;
  /** Handlers running now; deliveries still waiting for their lane are not here. */
  readonly #running = new Set<Promise<void>>();
  #stopping = false;
  /** Completions are committed in small batches: one KV commit per job would halve throughput. */
  #pendingDone: string[] = [];
  #flushTimer: ReturnType<typeof setTimeout> | null = null;
  #flushing: Promise<void> = Promise.resolve();
  /** `enqueue` calls of the current tick, committed together when the tick ends. */
  #coalescing: Waiting[] = [];
  #coalesceTimer: ReturnType<typeof setTimeout> | null = null;
  #reconciler: ReconcilerState = { consecutiveFailures: 0 };

  constructor(options: JobQueueOptions) {
    this.#kv = options.kv;
    this.#db = options.db;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#writer = new JobWriter(options.kv, options.metrics);
    this.register(options.handlers ?? []);
    const limits = { ...LANE_CONCURRENCY, ...options.concurrency };
    this.#lanes = Object.fromEntries(
      Object.entries(limits).map(([lane, concurrency]) => [lane, pLimit(concurrency)]),
    ) as Record<Lane, LimitFunction>;
    this.context = {
      config: options.config,
      db: options.db,
      kv: options.kv,
      log: options.log,
      enqueue: (type, payload, opts) => this.enqueue(type, payload, opts),
      reconcile: () => this.reconcile(),
    };
  }

  /**
   * Validates `payload` against the job's schema and queues it. A bad payload throws here, at
   * the caller, and never reaches the queue. Calls made in the same tick are committed together
   * (one KV commit, shared messages); each call resolves once its job is committed.
   */
  enqueue<S extends z.ZodType>(
    type: JobType<S>,
    payload: z.input<S>,
    options: EnqueueOptions = {},
  ): Promise<EnqueueResult> {
    let queued: Queued;
    try {
      queued = validateJob(type, { payload, ...options });
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.#coalescing.push({ queued, resolve, reject });
      // A macrotask rather than a microtask: callers that await something between enqueues
      // (a pool of request handlers, a loop over rows) still land in the same commit.
      this.#coalesceTimer ??= setTimeout(() => this.#commitCoalesced(), 0);
    });
  }

  async #commitCoalesced(): Promise<void> {
    if (this.#coalesceTimer) clearTimeout(this.#coalesceTimer);
    this.#coalesceTimer = null;
    const waiting = this.#coalescing.splice(0);
    // A job too large to share a message is committed on its own: if KV refuses its size, only
    // its caller hears of it.
    const alone = waiting.filter((w) => w.queued.chars > PACK_MAX_CHARS).map((w) => [w]);
    const shared = waiting.filter((w) => w.queued.chars <= PACK_MAX_CHARS);
    await Promise.all([shared, ...alone].map(async (group) => {
      if (group.length === 0) return;
      try {
        const results = await this.#writer.write(group.map((w) => w.queued));
        group.forEach((w, i) => w.resolve(results[i]));
      } catch (error) {
        for (const w of group) w.reject(error);
      }
    }));
  }

  /**
   * Queues many jobs of one type in few KV commits and messages (bulk work, reconciler). Unlike
   * `enqueue`, a bad item does not refuse the call: its items come from stored rows (one bad row
   * must not stop the work of every other), so it is skipped, recorded as a dead letter for an
   * operator, and reported in its result's `invalid`; the others are queued.
   */
  async enqueueMany<S extends z.ZodType>(
    type: JobType<S>,
    items: ({ payload: z.input<S> } & EnqueueOptions)[],
  ): Promise<EnqueueResult[]> {
    const results = new Array<EnqueueResult>(items.length);
    const valid: { index: number; queued: Queued }[] = [];
    const refused: { index: number; payload: unknown; reason: string }[] = [];
    items.forEach((item, index) => {
      try {
        valid.push({ index, queued: validateJob(type, item) });
      } catch (error) {
        if (!(error instanceof JobValidationError)) throw error;
        refused.push({ index, payload: item?.payload, reason: error.message });
      }
    });
    const written = await this.#writer.write(valid.map((v) => v.queued));
    valid.forEach((v, i) => results[v.index] = written[i]);
    for (const r of refused) {
      const id = await this.#deadLetterInvalid(type.name, r.payload, r.reason);
      results[r.index] = { id, deduplicated: false, invalid: r.reason };
    }
    return results;
  }

  /** Records a refused payload as a dead letter; never throws (the valid jobs are queued). */
  async #deadLetterInvalid(job: string, payload: unknown, reason: string): Promise<string> {
    try {
      const id = await recordRefusedPayload(this.#db, job, payload, reason);
      this.#metrics.deadLettered.inc({ job });
      this.#log.error("job refused: invalid payload dead-lettered", { job, id, error: reason });
      return id;
    } catch (error) {
      this.#log.error("job refused: invalid payload could not be dead-lettered", {
        job,
        error: reason,
        cause: error,
      });
      return "";
    }
  }

  /** Queues a job by its name (dead-letter retries, `deno task job`). */
  enqueueByName(
    name: string,
    payload: unknown,
    options?: EnqueueOptions,
  ): Promise<EnqueueResult> {
    const handler = this.#handlers.get(name);
    if (!handler) return Promise.reject(new JobValidationError(`no job type named ${name}`));
    return this.enqueue(handler.type, payload, options);
  }

  /**
   * Asks every job type that records its work in Postgres for work whose job is overdue (its
   * message was lost with a KV file or a dead process) and queues it again.
   */
  async reconcile(): Promise<number> {
    let queued = 0;
    let failure: string | undefined;
    for (const handler of this.#handlers.values()) {
      if (!handler.reconcile) continue;
      try {
        const items = await handler.reconcile(this.context);
        if (items.length === 0) continue;
        const results = await this.enqueueMany(handler.type, items);
        const fresh = results.filter((r) => !r.deduplicated && !r.invalid).length;
        queued += fresh;
        if (fresh > 0) {
          this.#log.warn("reconciler re-queued overdue work", {
            job: handler.type.name,
            count: fresh,
          });
        }
      } catch (error) {
        // One job type's broken sweep must not stop the others'.
        failure = `${handler.type.name}: ${(error as Error)?.message ?? String(error)}`;
        this.#metrics.reconcileFailures.inc({ job: handler.type.name });
        this.#log.error("reconciler failed", { job: handler.type.name, error });
      }
    }
    this.#reconciler = failure === undefined
      ? { consecutiveFailures: 0 }
      : { consecutiveFailures: this.#reconciler.consecutiveFailures + 1, lastError: failure };
    return queued;
  }

  /** How the last reconciler runs went (for /health: a sweep that keeps failing loses work). */
  get reconciler(): ReconcilerState {
    return { ...this.#reconciler };
  }

  /**
   * Adds handlers: the wiring builds the queue, then the services that enqueue on it, then the
   * handlers that use those services, and registers them before `start`.
   */
  register(handlers: JobHandler[]): void {
    if (this.#listening) throw new Error("job handlers are registered before the queue starts");
    for (const h of handlers) {
      if (this.#handlers.has(h.type.name)) throw new Error(`job ${h.type.name} registered twice`);
      this.#handlers.set(h.type.name, h);
    }
  }

  get handlers(): JobHandler[] {
    return [...this.#handlers.values()];
  }

  /** Starts the one dispatcher of this process. */
  start(): void {
    if (this.#listening) return;
    this.#listening = this.#kv.listenQueue((message: unknown) => this.#deliver(message));
  }

  #deliver(message: unknown): Promise<void> {
    // Not acknowledged: KV keeps the message and delivers it again after the restart.
    if (this.#stopping) return NEVER;
    const entries = unpack(message);
    if (!entries) {
      this.#log.error("job message of unknown shape dropped", { message: String(message) });
      return Promise.resolve();
    }
    return this.#deliverAll(entries);
  }

  /**
   * Runs the jobs of one message, each in its lane, and settles when all are settled: the
   * acknowledgement of the message. Jobs already settled by an earlier delivery are skipped.
   */
  async #deliverAll(entries: JobEntry[]): Promise<void> {
    const markers = await this.#markers(entries);
    const unknown: JobEntry[] = [];
    const runs: Promise<void>[] = [];
    entries.forEach((entry, i) => {
      if (settles(markers[i], entry.attempt)) {
        this.#log.debug("job already done, redelivery skipped", { job: entry.job, id: entry.id });
        return;
      }
      const handler = this.#handlers.get(entry.job);
      if (!handler) return void unknown.push(entry);
      runs.push(this.#lanes[handler.type.lane](() => {
        // A delivery that waited for its lane while we began stopping is left unacknowledged.
        if (this.#stopping) return NEVER;
        const run = this.#run(handler, entry);
        this.#running.add(run);
        return run.finally(() => this.#running.delete(run));
      }));
    });
    // Every job runs to its end before the message is refused: a refusal makes KV deliver the
    // message again, and a job still running then would run twice.
    const outcomes = await Promise.allSettled(runs);
    const failure = outcomes.find((o) => o.status === "rejected");
    if (unknown.length > 0 || failure) {
      // Completion markers land before the redelivery, so only unsettled jobs run again.
      await this.#flush();
      for (const entry of unknown) {
        // Another version of the app may know it; let KV try again later rather than drop it.
        this.#log.error("no handler for job", { job: entry.job, id: entry.id });
      }
      throw failure ? failure.reason : new Error(`no handler for ${unknown[0].job}`);
    }
  }

  /** The settlement markers of `entries` (10 keys per KV read, KV's limit). */
  async #markers(entries: JobEntry[]): Promise<unknown[]> {
    const reads: Promise<Deno.KvEntryMaybe<unknown>[]>[] = [];
    for (let i = 0; i < entries.length; i += 10) {
      reads.push(this.#kv.getMany(entries.slice(i, i + 10).map((e) => K.done(e.id))));
    }
    return (await Promise.all(reads)).flat().map((e) => e.value);
  }

  async #run(handler: JobHandler, entry: JobEntry): Promise<void> {
    const job = entry.job;
    const started = performance.now();
    try {
      const payload = handler.type.schema.parse(entry.payload);
      await handler.handle(payload, this.context, { id: entry.id, attempt: entry.attempt });
      const ms = performance.now() - started;
      this.#metrics.succeeded.inc({ job });
      this.#metrics.duration.observe({ job }, ms / 1000);
      this.#log.info("job done", {
        job,
        id: entry.id,
        attempt: entry.attempt,
        ms: Math.round(ms),
      });
      this.#markDone(entry.id);
    } catch (error) {
      const ms = performance.now() - started;
      this.#metrics.failed.inc({ job });
      this.#metrics.duration.observe({ job }, ms / 1000);
      await this.#failed(handler, entry, error as Error, ms);
    }
  }

  async #failed(handler: JobHandler, entry: JobEntry, error: Error, ms: number): Promise<void> {
    const { retry } = handler.type;
    const message = error?.message ?? String(error);
    const steer = error instanceof JobFailure ? error.steer : {};
    if (entry.attempt < retry.maxAttempts && steer.retryable !== false) {
      const delay = retryDelayMs(retry, entry.attempt, steer.retryAfterMs);
      const next = { ...entry, attempt: entry.attempt + 1, enqueuedAt: Date.now() };
      // The retry travels alone, queued before this delivery is acknowledged and together with
      // the marker that hands this attempt over to it: a crash in between means a redelivery
      // that skips this job, never a lost job or a second retry chain.
      const op = this.#kv.atomic();
      enqueuePack(op, [next], delay);
      op.set(K.done(entry.id), entry.attempt, { expireIn: DONE_TTL_MS });
      await op.commit();
      this.#metrics.retried.inc({ job: entry.job });
      this.#log.warn("job failed, will retry", {
        job: entry.job,
        id: entry.id,
        attempt: entry.attempt,
        retryInMs: delay,
        ms: Math.round(ms),
        error: message,
      });
      return;
    }
    await this.#db.sql`
      insert into job_failures (job_id, job, payload, attempts, last_error)
      values (${entry.id}, ${entry.job}, ${this.#db.sql.json(entry.payload as never)},
              ${entry.attempt}, ${message})
      on conflict (job_id) do update
        set attempts = excluded.attempts, last_error = excluded.last_error, status = 'dead',
            last_seen = now(), resolved_at = null`;
    this.#metrics.deadLettered.inc({ job: entry.job });
    await publishProductEvent(this.#db, {
      type: "job.dead_lettered",
      data: {
        job: entry.job,
        jobId: entry.id,
        attempts: entry.attempt,
        error: message.slice(0, 500),
      },
    }).catch((error) => this.#log.warn("dead letter not announced", { error }));
    this.#log.error("job dead-lettered", {
      job: entry.job,
      id: entry.id,
      attempts: entry.attempt,
      error: message,
    });
    this.#markDone(entry.id);
  }

  #markDone(id: string): void {
    this.#pendingDone.push(id);
    this.#flushTimer ??= setTimeout(() => this.#flush(), 10);
  }

  #flush(): Promise<void> {
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    const ids = this.#pendingDone.splice(0);
    if (ids.length === 0) return this.#flushing;
    this.#flushing = this.#flushing.then(async () => {
      for (let i = 0; i < ids.length; i += 400) {
        const batch = ids.slice(i, i + 400);
        const op = this.#kv.atomic();
        for (const id of batch) op.set(K.done(id), true, { expireIn: DONE_TTL_MS });
        op.sum(K.finished, BigInt(batch.length));
        await op.commit();
      }
    }).catch((error) => this.#log.error("job completion flush failed", { error }));
    return this.#flushing;
  }

  /** Jobs queued (including delayed ones and retries) and not yet finished by this KV. */
  async backlog(): Promise<number> {
    const [enq, fin] = await this.#kv.getMany<Deno.KvU64[]>([K.enqueued, K.finished]);
    const enqueued = enq.value?.value ?? 0n;
    const finished = fin.value?.value ?? 0n;
    return Number(enqueued > finished ? enqueued - finished : 0n);
  }

  /** Handlers running now (deliveries waiting for their lane are not counted). */
  get inFlight(): number {
    return this.#running.size;
  }

  /** Stops taking deliveries and waits (at most `graceMs`) for handlers already running. */
  async stop(graceMs = 10_000): Promise<void> {
    this.#stopping = true;
    // Jobs handed to `enqueue` in this very tick are committed, not dropped.
    if (this.#coalescing.length > 0) await this.#commitCoalesced();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...this.#running]),
      new Promise((resolve) => timer = setTimeout(resolve, graceMs)),
    ]);
    clearTimeout(timer);
    await this.#flush();
  }
}
