/**
 * The instances of the app on one database, and this one among them. Each instance keeps a row
 * in `app_instances` and refreshes it every {@link HEARTBEAT_MS}; one not seen for
 * {@link DEAD_AFTER_MS} is dead. What the live ones are is what divides the limits that must hold
 * for the whole system but are counted in each process's memory (a counter written to the
 * database on every request would cost every request a write): each instance enforces its share
 * ({@link Instances.shareOf}), recomputed at every heartbeat as instances come and go.
 *
 * Every instance must count days alike: schedules are claimed by their local minute in
 * `cron_runs`, so an instance with another TZ_METRICS would run the daily jobs a second time.
 * {@link Instances.assertSameTimeZone} refuses it at start.
 *
 * The embedded database belongs to one process (lib/db/embedded.ts), so there this instance is
 * the only one whatever the table says: its share of everything is the whole.
 *
 * @example
 * const instances = createInstances({ db, log, config, version: "0.1.0" });
 * await instances.assertSameTimeZone();
 * await instances.start();
 * const perInstance = instances.shareOf(tier.requestsPerMinute);
 */
import { type Config, ConfigError } from "./config.ts";
import type { Database } from "./db/mod.ts";
import { type ColumnsOf, fieldsOf } from "./db/rows.ts";
import type { Logger } from "./observability/log.ts";

/** How often an instance says it is alive. */
export const HEARTBEAT_MS = 5_000;
/**
 * Not seen for this long: dead, and its share goes to the others. Four heartbeats, so that an
 * instance whose event loop was busy for a moment is not taken for dead.
 */
export const DEAD_AFTER_MS = 20_000;

/** One live instance, as the admin pages and `/health` show it. */
export interface InstanceInfo {
  id: string;
  host: string;
  pid: number;
  version: string;
  tzMetrics: string;
  startedAt: Date;
  lastSeenAt: Date;
}

export interface Instances {
  /** This instance's id (random: `/health` shows it, and it names nothing of the machine). */
  readonly id: string;
  /** The live instances as of the last heartbeat, this one included, in id order. */
  live(): InstanceInfo[];
  /** How many instances share the work: at least 1, and always 1 on the embedded database. */
  count(): number;
  /**
   * This instance's part of a whole that every live instance shares (a per-minute limit): the
   * whole divided by the live instances, rounded down, with the remainder given one each to the
   * first instances in id order, so that the parts add up to the whole exactly; at least 1, so
   * a limit smaller than the number of instances still lets each one serve.
   */
  shareOf(whole: number): number;
  /** Refuses (a {@link ConfigError}) a TZ_METRICS other than the live instances'. */
  assertSameTimeZone(): Promise<void>;
  /** Registers this instance and keeps its heartbeat until {@link Instances.stop}. */
  start(): Promise<void>;
  /** One heartbeat now: the row refreshed, the live instances read again. */
  beat(): Promise<void>;
  /** Stops the heartbeat and removes the row: the others take this one's share at once. */
  stop(): Promise<void>;
}

export interface InstancesDeps {
  db: Database;
  log: Logger;
  config: Pick<Config, "tzMetrics">;
  version: string;
  heartbeatMs?: number;
  deadAfterMs?: number;
}

/** An `app_instances` row: its columns are named and typed as an {@link InstanceInfo}'s fields. */
type InstanceRow = ColumnsOf<InstanceInfo>;

/** One mapping from an `app_instances` row. */
function toInstance(row: InstanceRow): InstanceInfo {
  return {
    ...fieldsOf(row, ["id", "host"]),
    pid: Number(row.pid),
    ...fieldsOf(row, ["version", "tz_metrics", "started_at", "last_seen_at"]),
  };
}

export function createInstances(deps: InstancesDeps): Instances {
  const { db, log } = deps;
  const sql = db.sql;
  const heartbeatMs = deps.heartbeatMs ?? HEARTBEAT_MS;
  const deadAfterMs = deps.deadAfterMs ?? DEAD_AFTER_MS;
  const id = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
  const host = Deno.hostname();
  const tz = deps.config.tzMetrics;
  const alone = db.kind === "embedded";
  const self = (): InstanceInfo => ({
    id,
    host,
    pid: Deno.pid,
    version: deps.version,
    tzMetrics: tz,
    startedAt: new Date(),
    lastSeenAt: new Date(),
  });
  let known: InstanceInfo[] = [self()];
  let timer: ReturnType<typeof setInterval> | undefined;
  let beating: Promise<void> = Promise.resolve();
  let failing = false;
  let warnedTz = "";

  const count = () => alone ? 1 : Math.max(1, known.length);
  const rank = () => alone ? 0 : Math.max(0, known.findIndex((i) => i.id === id));

  async function beatOnce(): Promise<void> {
    try {
      // This instance's row is written and the others are read in one statement; the union
      // gives this one's row as just written.
      const rows = await sql<InstanceRow[]>`
        with beat as (
          insert into app_instances (id, host, pid, version, tz_metrics)
          values (${id}, ${host}, ${Deno.pid}, ${deps.version}, ${tz})
          on conflict (id) do update set last_seen_at = now()
          returning *
        )
        select * from beat
        union all
        select * from app_instances
        where id <> ${id} and last_seen_at > now() - ${deadAfterMs} * interval '1 millisecond'
        order by id`;
      known = rows.map(toInstance);
      if (failing) log.info("instance heartbeat recovered", { instance: id });
      failing = false;
      const others = known.filter((i) => i.tzMetrics !== tz).map((i) => i.id).join(",");
      if (others && others !== warnedTz && !alone) {
        log.error("instances with another TZ_METRICS share this database", {
          instance: id,
          tzMetrics: tz,
          others,
        });
      }
      warnedTz = others;
    } catch (error) {
      // The last known list stands: without the database nothing is served anyway.
      if (!failing) log.warn("instance heartbeat failed", { instance: id, error });
      failing = true;
    }
  }

  return {
    id,
    live: () => known,
    count,
    shareOf(whole) {
      const n = count();
      const part = Math.floor(whole / n) + (rank() < whole % n ? 1 : 0);
      return Math.max(1, part);
    },
    async assertSameTimeZone() {
      if (alone) return;
      const rows = await sql<{ host: string; tz_metrics: string; seconds_ago: number }[]>`
        select host, tz_metrics,
               round(extract(epoch from now() - last_seen_at))::int as seconds_ago
        from app_instances
        where id <> ${id} and tz_metrics <> ${tz}
          and last_seen_at > now() - ${deadAfterMs} * interval '1 millisecond'
        order by last_seen_at desc`;
      if (rows.length === 0) return;
      const theirs = [...new Set(rows.map((r) => r.tz_metrics))].join(", ");
      const seen = rows.map((r) => `${r.host}, seen ${r.seconds_ago} s ago`).join("; ");
      throw new ConfigError([
        `TZ_METRICS: this instance would count days in ${tz}, but ${rows.length} running ` +
        `instance${rows.length === 1 ? "" : "s"} on this database count${
          rows.length === 1 ? "s" : ""
        } them in ${theirs} (${seen}). Schedules are claimed by their local time, so daily ` +
        `jobs would run twice: give every instance the same TZ_METRICS, or stop the others first.`,
      ]);
    },
    async start() {
      if (timer !== undefined) return;
      if (alone) {
        // Rows of other processes are left over from earlier runs: none can be alive.
        await sql`delete from app_instances where not (host = ${host} and pid = ${Deno.pid})`;
      } else {
        await sql`delete from app_instances where last_seen_at < now() - interval '1 day'`;
      }
      await beatOnce();
      log.info("instance registered", { instance: id, live: count() });
      timer = setInterval(() => {
        beating = beating.then(beatOnce);
      }, heartbeatMs);
    },
    beat() {
      return beating = beating.then(beatOnce);
    },
    async stop() {
      if (timer === undefined) return;
      clearInterval(timer);
      timer = undefined;
      await beating;
      await sql`delete from app_instances where id = ${id}`.catch((error) =>
        log.warn("instance row not removed; it expires on its own", { instance: id, error })
      );
      known = [self()];
    },
  };
}
