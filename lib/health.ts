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
  const [dbUp, kvUp] = await Promise.all([deps.db.ping(), pingKv(deps.kv)]);
  // Queue figures come from the database: without it they are unknown, not zero.
  const queue = dbUp
    ? await deps.queueStats().then((q) => ({ status: "ok" as const, ...q })).catch(() => ({
      status: "unknown" as const,
    }))
    : { status: "unknown" as const };
  return {
    status: dbUp && kvUp ? "ok" : "degraded",
    database: { status: dbUp ? "ok" : "down", kind: deps.db.kind },
    kv: { status: kvUp ? "ok" : "down" },
    queue,
  };
}
