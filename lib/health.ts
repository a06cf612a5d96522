/**
 * What `/health` reports: each dependency's state, and `degraded` as soon as one is down.
 */
import type { Database } from "./db/mod.ts";
import { pingKv } from "./kv/mod.ts";

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
  database: { status: "ok" | "down"; kind: Database["kind"] };
  kv: { status: "ok" | "down" };
  queue: (QueueStats & { status: "ok" }) | { status: "unknown" };
}

export async function checkHealth(deps: {
  db: Database;
  kv: Deno.Kv;
  queueStats: () => Promise<QueueStats>;
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
  return {
    status: dbUp && kvUp ? "ok" : "degraded",
    database: { status: dbUp ? "ok" : "down", kind: deps.db.kind },
    kv: { status: kvUp ? "ok" : "down" },
    queue,
  };
}
