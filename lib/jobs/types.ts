/**
 * What a job type is. The name, payload schema, lane and retry policy live in `lib/` next to the
 * domain that enqueues the job; the handler that does the work lives in `jobs/` and is bound to
 * the type there. So `lib/` can enqueue without importing `jobs/` (no import circle).
 */
import type { z } from "zod";
import type { Database } from "../db/mod.ts";
import type { Logger } from "../observability/log.ts";
import type { Config } from "../config.ts";

/** Each lane has its own concurrency limit: slow LLM calls never starve payment polls. */
export type Lane =
  | "default"
  | "llm"
  | "priority"
  | "notifications"
  | "payments"
  | "replies"
  | "sends";

export const LANE_CONCURRENCY: Record<Lane, number> = {
  default: 16,
  llm: 4,
  // Reserved capacity for AI work a person is waiting on (grievance classification): it never
  // queues behind bulk LLM work, whatever the llm lane holds.
  priority: 8,
  notifications: 8,
  // A poll mostly waits on Paynow (remote, hundreds of ms) and holds a database connection only
  // for two short statements, so a lane as narrow as the others would queue a burst of due polls
  // behind that wait.
  payments: 64,
  // Answering a conversation: a few short statements around one AI call that waits seconds, so
  // a lane sized for I/O (WHATSAPP_REPLY_CONCURRENCY overrides it per instance).
  replies: 256,
  // Sending a conversation's messages: a few statements and one provider call each, paced per
  // user by delayed jobs (not waits in a slot), so a narrow lane would hold back every reply.
  sends: 64,
};

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Delay before attempt n+1 is `backoffMs[n-1]` (the last value repeats). */
  backoffMs: number[];
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 5,
  backoffMs: [1_000, 5_000, 30_000, 120_000],
};

/** The jobs of a conversation (its replies, its sends): a person waits, so retries come soon. */
export const CONVERSATION_RETRY: RetryPolicy = {
  maxAttempts: 5,
  backoffMs: [1_000, 5_000, 15_000, 60_000],
};

/**
 * What a handler throws to steer its own retries: `retryAfterMs` (an upstream's `Retry-After`)
 * makes the next attempt wait at least that long; `retryable: false` gives up at once, straight
 * to the dead letters (a refusal no retry can change). Any other error follows the policy.
 */
export class JobFailure extends Error {
  override name = "JobFailure";
  constructor(
    message: string,
    readonly steer: { retryable?: boolean; retryAfterMs?: number } = {},
  ) {
    super(message);
  }
}

/** Longest wait a `retryAfterMs` may ask for (KV's delay limit is 30 days). */
const MAX_RETRY_AFTER_MS = 24 * 3600 * 1000;

/** The wait before the attempt after `attempt`: the policy's backoff, or longer if asked. */
export function retryDelayMs(policy: RetryPolicy, attempt: number, retryAfterMs = 0): number {
  const backoff = policy.backoffMs[Math.min(attempt - 1, policy.backoffMs.length - 1)] ?? 0;
  return Math.max(backoff, Math.min(Math.max(retryAfterMs, 0), MAX_RETRY_AFTER_MS));
}

export interface JobType<S extends z.ZodType = z.ZodType> {
  name: string;
  schema: S;
  lane: Lane;
  retry: RetryPolicy;
}

export function jobType<S extends z.ZodType>(
  def: { name: string; schema: S; lane?: Lane; retry?: Partial<RetryPolicy> },
): JobType<S> {
  if (!/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/.test(def.name)) {
    throw new Error(`job name ${def.name}: use dotted lower-case words, e.g. payments.poll`);
  }
  return {
    name: def.name,
    schema: def.schema,
    lane: def.lane ?? "default",
    retry: { ...DEFAULT_RETRY, ...def.retry },
  };
}

/**
 * A chat channel's two jobs, keyed by its conversation (a phone, a chat): `reply` answers what is
 * pending, `send` sends what is queued. Each job means "this conversation may have work"; its
 * handler works through everything open in order, so a lost or repeated job changes nothing.
 */
export function conversationJobs<S extends z.ZodType>(channel: string, key: S) {
  const job = (verb: string, lane: Lane) =>
    jobType({ name: `${channel}.${verb}`, schema: key, lane, retry: CONVERSATION_RETRY });
  return { reply: job("reply", "replies"), send: job("send", "sends") };
}

export interface EnqueueOptions {
  /** Milliseconds to wait before delivery (≤ 30 days). */
  delay?: number;
  /** A second enqueue with the same key (while the key lives) is a no-op. */
  dedupeKey?: string;
  /** How long the dedupe key lives; default 24 h. */
  dedupeTtlMs?: number;
}

export interface Enqueuer {
  enqueue<S extends z.ZodType>(
    type: JobType<S>,
    payload: z.input<S>,
    options?: EnqueueOptions,
  ): Promise<{ id: string; deduplicated: boolean }>;
}

/**
 * An enqueuer that can also queue a job known only by its name, validated against that job
 * type's schema: what re-queues a stored job (a dead-letter retry, `deno task job`).
 */
export interface NamedEnqueuer extends Enqueuer {
  enqueueByName(
    name: string,
    payload: unknown,
    options?: EnqueueOptions,
  ): Promise<{ id: string; deduplicated: boolean }>;
}

/** What a handler (or a cron tick, or a reconciler) receives. */
export interface JobContext extends Enqueuer {
  /** Re-queues overdue recorded work of every job type that can find it; returns the count. */
  reconcile(): Promise<number>;
  config: Config;
  db: Database;
  kv: Deno.Kv;
  log: Logger;
}

export interface JobMeta {
  id: string;
  attempt: number;
}

export interface JobHandler<S extends z.ZodType = z.ZodType> {
  type: JobType<S>;
  handle(payload: z.output<S>, ctx: JobContext, meta: JobMeta): Promise<void>;
  /**
   * Finds work recorded in Postgres whose job is overdue (lost with a KV file, or with a process
   * that died) and claims it, returning the payloads to enqueue again. Run by the reconciler.
   */
  reconcile?(ctx: JobContext): Promise<{ payload: z.input<S>; dedupeKey?: string }[]>;
}

/** Binds a handler to its type (in `jobs/`). */
export function defineHandler<S extends z.ZodType>(
  type: JobType<S>,
  handle: JobHandler<S>["handle"],
  extra: { reconcile?: JobHandler<S>["reconcile"] } = {},
): JobHandler<S> {
  return { type, handle, ...extra };
}

/**
 * The handler of a job that works through one key's recorded work in order (a phone's
 * messages, a chat's updates): it runs `work` on the payload's `key` while the channel is on
 * (`deps` not null), and its reconcile sweep re-queues each key `overdue` finds, at most once a
 * minute.
 */
export function keyedWorkHandler<S extends z.ZodType, K extends keyof z.output<S> & string, D>(
  type: JobType<S>,
  key: K,
  deps: D | null,
  work: (deps: D, value: z.output<S>[K]) => Promise<void>,
  overdue: (db: Database) => Promise<z.output<S>[K][]>,
): JobHandler<S> {
  return defineHandler(type, async (payload) => {
    if (deps) await work(deps, payload[key]);
  }, {
    async reconcile(ctx) {
      if (!deps) return [];
      const minute = Math.floor(Date.now() / 60_000);
      return (await overdue(ctx.db)).map((value) => ({
        payload: { [key]: value } as z.input<S>,
        dedupeKey: `${value}:reconciled:${minute}`,
      }));
    },
  });
}

/** A schedule: a cron pattern read in the metrics time zone (TZ_METRICS) unless it names one. */
export interface CronJob<A extends z.ZodType = z.ZodType> {
  name: string;
  /** Five-field cron pattern, e.g. `"10 0 * * *"` (00:10 every day). */
  schedule: string;
  timeZone?: string;
  /** Arguments accepted when run by hand (`deno task job <name> --from …`). */
  args?: A;
  run(ctx: JobContext, args: z.output<A> | undefined, tick: { scheduledFor: Date | null }): Promise<
    void
  >;
}

export function defineCron<A extends z.ZodType>(def: CronJob<A>): CronJob<A> {
  return def;
}
