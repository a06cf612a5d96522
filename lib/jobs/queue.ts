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
 * Measured facts this design follows (shared/measured.md): `listenQueue` does not wait for a
 * handler before delivering the next message, so each lane has its own limit (p-limit) and every
 * handler must be idempotent; a completed job's id is remembered so a redelivery skips it.
 */
import pLimit, { type LimitFunction } from "p-limit";
import type { z } from "zod";
import type { Database } from "../db/mod.ts";
import type { Logger } from "../observability/log.ts";
import type { JobMetrics } from "../observability/metrics.ts";
import type { Config } from "../config.ts";
import {
  type EnqueueOptions,
  type JobContext,
  type JobHandler,
  type JobType,
  type Lane,
  LANE_CONCURRENCY,
} from "./types.ts";

const MAX_DELAY_MS = 30 * 24 * 3600 * 1000;
const DONE_TTL_MS = 7 * 24 * 3600 * 1000;
const DEFAULT_DEDUPE_TTL_MS = 24 * 3600 * 1000;
/** KV's own redelivery schedule for messages whose handler never returned (crash). */
const KV_SAFETY_BACKOFF = [1_000, 5_000, 30_000, 60_000, 300_000];

/** What travels through KV. `v` lets a future format coexist with queued old messages. */
interface Envelope {
  v: 1;
  id: string;
  job: string;
  payload: unknown;
  attempt: number;
  enqueuedAt: number;
}

/** Never settles: leaves a KV delivery unacknowledged, so it is redelivered after a restart. */
const NEVER = new Promise<void>(() => {});

export class JobValidationError extends Error {
  override name = "JobValidationError";
}

const K = {
  dedupe: (job: string, key: string) => ["jobs", "dedupe", job, key],
  done: (id: string) => ["jobs", "done", id],
  enqueued: ["jobs", "count", "enqueued"],
  finished: ["jobs", "count", "finished"],
  undelivered: (id: string) => ["jobs", "undelivered", id],
};

export interface JobQueueOptions {
  kv: Deno.Kv;
  db: Database;
  log: Logger;
  config: Config;
  metrics: JobMetrics;
  handlers: JobHandler[];
  concurrency?: Partial<Record<Lane, number>>;
}

export class JobQueue {
  readonly #kv: Deno.Kv;
  readonly #db: Database;
  readonly #log: Logger;
  readonly #metrics: JobMetrics;
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

  constructor(options: JobQueueOptions) {
    this.#kv = options.kv;
    this.#db = options.db;
    this.#log = options.log;
    this.#metrics = options.metrics;
    for (const h of options.handlers) {
      if (this.#handlers.has(h.type.name)) throw new Error(`job ${h.type.name} registered twice`);
      this.#handlers.set(h.type.name, h);
    }
    const limits = { ...LANE_CONCURRENCY, ...options.concurrency };
    this.#lanes = {
      default: pLimit(limits.default),
      llm: pLimit(limits.llm),
      notifications: pLimit(limits.notifications),
      payments: pLimit(limits.payments),
    };
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
   * the caller, and never reaches the queue.
   */
  async enqueue<S extends z.ZodType>(
    type: JobType<S>,
    payload: z.input<S>,
    options: EnqueueOptions = {},
  ): Promise<{ id: string; deduplicated: boolean }> {
    const [result] = await this.enqueueMany(type, [{ payload, ...options }]);
    return result;
  }

  /** Queues many jobs in few KV commits (bulk work, benchmarks). */
  async enqueueMany<S extends z.ZodType>(
    type: JobType<S>,
    items: ({ payload: z.input<S> } & EnqueueOptions)[],
  ): Promise<{ id: string; deduplicated: boolean }[]> {
    const envelopes = items.map((item) => {
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
      return { item, delay, envelope: this.#envelope(type.name, parsed.data, 1) };
    });
    // Jobs without a dedupe key go in batches well under KV's limit of mutations per atomic
    // operation; a deduplicated job needs a commit of its own (its check must fail alone).
    const plain = envelopes.filter((e) => !e.item.dedupeKey);
    for (let i = 0; i < plain.length; i += 400) {
      const batch = plain.slice(i, i + 400);
      const op = this.#kv.atomic();
      for (const { envelope, delay } of batch) this.#enqueueOp(op, envelope, delay);
      op.sum(K.enqueued, BigInt(batch.length));
      await op.commit();
      this.#metrics.enqueued.inc({ job: type.name }, batch.length);
    }
    const results: { id: string; deduplicated: boolean }[] = [];
    for (const { item, envelope, delay } of envelopes) {
      if (!item.dedupeKey) {
        results.push({ id: envelope.id, deduplicated: false });
        continue;
      }
      const key = K.dedupe(type.name, item.dedupeKey);
      const op = this.#kv.atomic().check({ key, versionstamp: null })
        .set(key, envelope.id, { expireIn: item.dedupeTtlMs ?? DEFAULT_DEDUPE_TTL_MS });
      this.#enqueueOp(op, envelope, delay);
      op.sum(K.enqueued, 1n);
      if ((await op.commit()).ok) {
        this.#metrics.enqueued.inc({ job: type.name });
        results.push({ id: envelope.id, deduplicated: false });
      } else {
        const existing = await this.#kv.get<string>(key);
        results.push({ id: existing.value ?? envelope.id, deduplicated: true });
      }
    }
    return results;
  }

  #envelope(job: string, payload: unknown, attempt: number, id?: string): Envelope {
    return { v: 1, id: id ?? crypto.randomUUID(), job, payload, attempt, enqueuedAt: Date.now() };
  }

  #enqueueOp(op: Deno.AtomicOperation, envelope: Envelope, delay: number): void {
    op.enqueue(envelope, {
      delay,
      backoffSchedule: KV_SAFETY_BACKOFF,
      keysIfUndelivered: [K.undelivered(envelope.id)],
    });
  }

  /** Queues a job by its name (dead-letter retries, `deno task job`). */
  enqueueByName(
    name: string,
    payload: unknown,
    options?: EnqueueOptions,
  ): Promise<{ id: string; deduplicated: boolean }> {
    const handler = this.#handlers.get(name);
    if (!handler) throw new JobValidationError(`no job type named ${name}`);
    return this.enqueue(handler.type, payload, options);
  }

  /**
   * Asks every job type that records its work in Postgres for work whose job is overdue (its
   * message was lost with a KV file or a dead process) and queues it again.
   */
  async reconcile(): Promise<number> {
    let queued = 0;
    for (const handler of this.#handlers.values()) {
      if (!handler.reconcile) continue;
      try {
        const items = await handler.reconcile(this.context);
        if (items.length === 0) continue;
        const results = await this.enqueueMany(handler.type, items);
        const fresh = results.filter((r) => !r.deduplicated).length;
        queued += fresh;
        if (fresh > 0) {
          this.#log.warn("reconciler re-queued overdue work", {
            job: handler.type.name,
            count: fresh,
          });
        }
      } catch (error) {
        // One job type's broken sweep must not stop the others'.
        this.#log.error("reconciler failed", { job: handler.type.name, error });
      }
    }
    return queued;
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
    const envelope = message as Envelope;
    // Not acknowledged: KV keeps the message and delivers it again after the restart.
    if (this.#stopping) return NEVER;
    if (envelope?.v !== 1 || typeof envelope.job !== "string") {
      this.#log.error("job message of unknown shape dropped", { message: String(message) });
      return Promise.resolve();
    }
    const handler = this.#handlers.get(envelope.job);
    if (!handler) {
      // Another version of the app may know it; let KV try again later rather than drop it.
      this.#log.error("no handler for job", { job: envelope.job, id: envelope.id });
      return Promise.reject(new Error(`no handler for ${envelope.job}`));
    }
    return this.#lanes[handler.type.lane](() => {
      // A delivery that waited for its lane while we began stopping is left unacknowledged.
      if (this.#stopping) return NEVER;
      const run = this.#run(handler, envelope);
      this.#running.add(run);
      return run.finally(() => this.#running.delete(run));
    });
  }

  async #run(handler: JobHandler, envelope: Envelope): Promise<void> {
    const job = envelope.job;
    if ((await this.#kv.get(K.done(envelope.id))).versionstamp !== null) {
      this.#log.debug("job already done, redelivery skipped", { job, id: envelope.id });
      return;
    }
    const started = performance.now();
    try {
      const payload = handler.type.schema.parse(envelope.payload);
      await handler.handle(payload, this.context, { id: envelope.id, attempt: envelope.attempt });
      const ms = performance.now() - started;
      this.#metrics.succeeded.inc({ job });
      this.#metrics.duration.observe({ job }, ms / 1000);
      this.#log.info("job done", {
        job,
        id: envelope.id,
        attempt: envelope.attempt,
        ms: Math.round(ms),
      });
      this.#markDone(envelope.id);
    } catch (error) {
      const ms = performance.now() - started;
      this.#metrics.failed.inc({ job });
      this.#metrics.duration.observe({ job }, ms / 1000);
      await this.#failed(handler, envelope, error as Error, ms);
    }
  }

  async #failed(handler: JobHandler, envelope: Envelope, error: Error, ms: number): Promise<void> {
    const { retry } = handler.type;
    const message = error?.message ?? String(error);
    if (envelope.attempt < retry.maxAttempts) {
      const delay = retry.backoffMs[Math.min(envelope.attempt - 1, retry.backoffMs.length - 1)] ??
        0;
      const next = { ...envelope, attempt: envelope.attempt + 1, enqueuedAt: Date.now() };
      // The retry is queued before this delivery is acknowledged: a crash in between means a
      // duplicate delivery (skipped by the done marker), never a lost job.
      const op = this.#kv.atomic();
      this.#enqueueOp(op, next, delay);
      await op.commit();
      this.#metrics.retried.inc({ job: envelope.job });
      this.#log.warn("job failed, will retry", {
        job: envelope.job,
        id: envelope.id,
        attempt: envelope.attempt,
        retryInMs: delay,
        ms: Math.round(ms),
        error: message,
      });
      return;
    }
    await this.#db.sql`
      insert into job_failures (job_id, job, payload, attempts, last_error)
      values (${envelope.id}, ${envelope.job}, ${this.#db.sql.json(envelope.payload as never)},
              ${envelope.attempt}, ${message})
      on conflict (job_id) do update
        set attempts = excluded.attempts, last_error = excluded.last_error, status = 'dead',
            last_seen = now(), resolved_at = null`;
    this.#metrics.deadLettered.inc({ job: envelope.job });
    this.#log.error("job dead-lettered", {
      job: envelope.job,
      id: envelope.id,
      attempts: envelope.attempt,
      error: message,
    });
    this.#markDone(envelope.id);
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
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...this.#running]),
      new Promise((resolve) => timer = setTimeout(resolve, graceMs)),
    ]);
    clearTimeout(timer);
    await this.#flush();
  }
}
