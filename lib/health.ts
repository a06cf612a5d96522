/**
 * What `/health` reports: each dependency's state, and `degraded` as soon as one is down or the
 * reconciler keeps failing (work lost with a KV file would then never be done). `serving` says
 * whether this instance can answer requests at all: the HTTP status follows it, so a load
 * balancer keeps an instance whose only trouble is background work.
 */
import type { Database } from "./db/mod.ts";
import type { Instances } from "./instances.ts";
import type { ReconcilerState } from "./jobs/queue.ts";
import { pingKv } from "./kv/mod.ts";
import { refreshAhead } from "./cache.ts";

/** Reconciler runs failing in a row before /health says so (one can fail on a passing blip). */
export const RECONCILER_FAILING_AFTER = 3;

export interface QueueStats {
  /** Jobs recorded as queued or running and not yet finished. */
  backlog: number;
  /** Jobs currently being handled by this process. */
  inFlight: number;
  /** Jobs that exhausted their retries and wait for an operator. */
  deadLetters: number;
}

export interface HealthReport {
  status: "ok" | "degraded";
  /** Whether the database and KV answer: without them no request can be served. */
  serving: boolean;
  database: { status: "ok" | "down"; kind: Database["kind"] };
  kv: { status: "ok" | "down" };
  queue: (QueueStats & { status: "ok" }) | { status: "unknown" };
  reconciler: { status: "ok" | "failing"; consecutiveFailures: number; lastError?: string };
  /** The instances on this database as of this one's last heartbeat (docs/scaling.md). */
  instances: {
    self: string;
    live: { id: string; version: string; startedAt: string; lastSeenAt: string }[];
  };
}

export async function checkHealth(deps: {
  db: Database;
  kv: Deno.Kv;
  queueStats: () => Promise<QueueStats>;
  reconciler: () => ReconcilerState;
  instances: Pick<Instances, "id" | "live">;
}): Promise<HealthReport> {
  // All at once: the queue figures need the database, but asking for them beside the ping
  // costs nothing when it is up and is discarded when it is down.
  const [dbUp, kvUp, stats] = await Promise.all([
    deps.db.ping(),
    pingKv(deps.kv),
    deps.queueStats().catch(() => null),
  ]);
  // Without the database the queue figures are unknown, not zero.
  const queue = dbUp && stats
    ? { status: "ok" as const, ...stats }
    : { status: "unknown" as const };
  const reconciler = deps.reconciler();
  const reconcilerFailing = reconciler.consecutiveFailures >= RECONCILER_FAILING_AFTER;
  return {
    status: dbUp && kvUp && !reconcilerFailing ? "ok" : "degraded",
    serving: dbUp && kvUp,
    database: { status: dbUp ? "ok" : "down", kind: deps.db.kind },
    kv: { status: kvUp ? "ok" : "down" },
    queue,
    reconciler: {
      status: reconcilerFailing ? "failing" : "ok",
      consecutiveFailures: reconciler.consecutiveFailures,
      ...(reconciler.lastError ? { lastError: reconciler.lastError } : {}),
    },
    instances: {
      self: deps.instances.id,
      // No host names: the balancer's health check is often reachable from outside.
      live: deps.instances.live().map((i) => ({
        id: i.id,
        version: i.version,
        startedAt: i.startedAt.toISOString(),
        lastSeenAt: i.lastSeenAt.toISOString(),
      })),
    },
  };
}

/** How often the report behind `/health` is recomputed, at most. */
export const HEALTH_REFRESH_MS = 1_000;

/**
 * `/health` answered from a snapshot: balancers and monitors may poll it as often as they like,
 * the database sees at most one round of checks a second. A report is at most twice
 * {@link HEALTH_REFRESH_MS} old (refreshed ahead once it is older than that).
 */
export function healthSnapshot<T extends HealthReport>(
  check: () => Promise<T>,
  clock: () => number = Date.now,
): () => Promise<T> {
  const snapshot = refreshAhead(check, 2 * HEALTH_REFRESH_MS, clock);
  return () => snapshot.get();
}
