/**
 * Schedules. One `Deno.cron` per process fires every minute; for each declared schedule whose
 * pattern matches that minute in its time zone (npm `croner` does the time-zone arithmetic,
 * which `Deno.cron` cannot: it reads patterns in UTC), the tick is claimed in Postgres and run.
 *
 * Exactly once across instances: the claim is an insert into `cron_runs` keyed by
 * (name, minute); only the instance whose insert lands runs the tick. A second guard,
 * `tryWithLock`, skips a tick while the previous run of the same schedule is still going
 * (advisory lock on a real server, in-process mutex on the embedded database). A run by hand
 * (`deno task job`) claims the schedule's latest tick the same way ({@link CronScheduler.latestTick}),
 * or, given arguments (a backfill), runs under the same lock ({@link CronScheduler.runByHand}).
 * Every instance reads the patterns in the same time zone (lib/instances.ts refuses another
 * TZ_METRICS), or one day's tick would be two claims.
 */
import { Cron } from "croner";
import type { Database } from "../db/mod.ts";
import type { Logger } from "../observability/log.ts";
import type { CronJob, JobContext } from "./types.ts";

export interface CronSchedulerOptions {
  db: Database;
  log: Logger;
  context: JobContext;
  /** The schedules; more may be added with `register` before `start`. */
  crons?: CronJob[];
  defaultTimeZone: string;
  /** Names this process in `cron_runs` (host:pid). */
  instance?: string;
}

export type TickOutcome = "ran" | "failed" | "claimed-elsewhere" | "still-running";

export class CronScheduler {
  readonly #options: CronSchedulerOptions;
  readonly #crons: CronJob[] = [];
  readonly #patterns = new Map<string, Cron>();
  readonly #abort = new AbortController();
  readonly #running = new Set<Promise<unknown>>();

  constructor(options: CronSchedulerOptions) {
    this.#options = options;
    this.register(options.crons ?? []);
  }

  /** Adds schedules (the wiring registers them once the services they use exist). */
  register(crons: CronJob[]): void {
    for (const cron of crons) {
      if (this.#patterns.has(cron.name)) throw new Error(`cron ${cron.name} declared twice`);
      this.#patterns.set(
        cron.name,
        new Cron(cron.schedule, {
          timezone: cron.timeZone ?? this.#options.defaultTimeZone,
          paused: true,
        }),
      );
      this.#crons.push(cron);
    }
  }

  get instance(): string {
    return this.#options.instance ?? `${Deno.hostname()}:${Deno.pid}`;
  }

  /** Registers the minute tick with Deno.cron (once per process). */
  start(): void {
    // Deno.cron names allow letters, digits, spaces, hyphens and underscores only.
    Deno.cron(
      `hurukuro-minute-${this.instance.replace(/[^A-Za-z0-9_-]/g, "_")}`,
      "* * * * *",
      { signal: this.#abort.signal },
      () => {
        const run = this.tick(new Date());
        this.#running.add(run);
        return run.finally(() => this.#running.delete(run)).then(() => {});
      },
    );
  }

  /** Names of the schedules due in the minute containing `now`. */
  due(now: Date): CronJob[] {
    const minute = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
    return this.#crons.filter((cron) =>
      this.#patterns.get(cron.name)!.nextRun(new Date(minute.getTime() - 1))?.getTime() ===
        minute.getTime()
    );
  }

  /** Runs every schedule due in the minute containing `now`. */
  async tick(now: Date): Promise<Record<string, TickOutcome>> {
    const minute = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
    const outcomes: Record<string, TickOutcome> = {};
    await Promise.all(
      this.due(minute).map(async (cron) => {
        outcomes[cron.name] = await this.runTick(cron, minute);
      }),
    );
    return outcomes;
  }

  /** The latest tick of `cron` at or before `now` (what a run by hand claims). */
  latestTick(cron: CronJob, now: Date): Date {
    const minute = Math.floor(now.getTime() / 60_000) * 60_000;
    const pattern = this.#patterns.get(cron.name);
    if (!pattern) throw new Error(`cron ${cron.name} is not registered`);
    // croner's previous runs are strictly before the reference: one millisecond past the minute.
    const [latest] = pattern.previousRuns(1, new Date(minute + 1));
    if (!latest) throw new Error(`cron ${cron.name} never fired before ${now.toISOString()}`);
    return latest;
  }

  /**
   * Claims and runs one tick of `cron` scheduled for `scheduledFor`. `by` names who claims it in
   * `cron_runs` (this instance by default; a run by hand says so).
   */
  async runTick(
    cron: CronJob,
    scheduledFor: Date,
    options: { by?: string } = {},
  ): Promise<TickOutcome> {
    const { db, log } = this.#options;
    const claimed = await db.sql`
      insert into cron_runs (name, scheduled_for, instance)
      values (${cron.name}, ${scheduledFor}, ${options.by ?? this.instance})
      on conflict do nothing
      returning name`;
    if (claimed.length === 0) return "claimed-elsewhere";
    const started = performance.now();
    let error: Error | undefined;
    const result = await db.tryWithLock(`cron:${cron.name}`, async () => {
      try {
        await cron.run(this.#options.context, undefined, { scheduledFor });
      } catch (e) {
        error = e as Error;
      }
    });
    const status = !result.ran ? "skipped" : error ? "failed" : "ok";
    await db.sql`update cron_runs set finished_at = now(), status = ${status},
                   error = ${error?.message ?? null}
                 where name = ${cron.name} and scheduled_for = ${scheduledFor}`;
    const ms = Math.round(performance.now() - started);
    if (!result.ran) {
      log.warn("cron tick skipped: the previous run is still going", { cron: cron.name });
      return "still-running";
    }
    if (error) {
      log.error("cron tick failed", { cron: cron.name, ms, error: error.message });
      return "failed";
    }
    log.info("cron tick done", { cron: cron.name, ms });
    return "ran";
  }

  /**
   * Runs `cron` by hand with `args` (a backfill), not as a tick: nothing is claimed, but it never
   * runs beside a tick of the same schedule (their lock). False when one is running.
   */
  async runByHand(cron: CronJob, args: unknown): Promise<boolean> {
    const result = await this.#options.db.tryWithLock(
      `cron:${cron.name}`,
      () => cron.run(this.#options.context, args, { scheduledFor: null }),
    );
    return result.ran;
  }

  /** Who claimed `cron`'s tick at `scheduledFor`, and how it went (null: nobody). */
  async claimOf(
    cron: CronJob,
    scheduledFor: Date,
  ): Promise<{ instance: string; status: string; startedAt: Date } | null> {
    const [row] = await this.#options.db.sql<
      { instance: string; status: string; started_at: Date }[]
    >`
      select instance, status, started_at from cron_runs
      where name = ${cron.name} and scheduled_for = ${scheduledFor}`;
    return row ? { instance: row.instance, status: row.status, startedAt: row.started_at } : null;
  }

  /** Stops the minute tick and waits (bounded) for running ticks. */
  async stop(graceMs = 10_000): Promise<void> {
    this.#abort.abort();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...this.#running]),
      new Promise((r) => timer = setTimeout(r, graceMs)),
    ]);
    clearTimeout(timer);
  }
}
