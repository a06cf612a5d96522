/**
 * The admin's hand on dead letters (jobs that exhausted their retries, lib/jobs/dead_letters.ts):
 * retry one (queued again as a fresh job) or discard it, audited.
 */
import type { Database } from "../db/mod.ts";
import { discardDeadLetter, retryDeadLetter } from "../jobs/dead_letters.ts";
import type { NamedEnqueuer } from "../jobs/types.ts";
import { type AdminActor, recordAudit } from "./audit.ts";

/** False when `id` is not an open dead letter (already retried or discarded, or unknown). */
export async function resolveDeadLetter(
  db: Database,
  queue: NamedEnqueuer,
  actor: AdminActor,
  id: string,
  action: "retry" | "discard",
): Promise<boolean> {
  const [row] = await db.sql`select job, attempts, status from job_failures where id = ${id}`;
  if (!row) return false;
  const done = action === "retry"
    ? await retryDeadLetter(db, queue, id)
    : await discardDeadLetter(db, id);
  if (!done) return false;
  await recordAudit(db.sql, actor, {
    action: `job.${action}`,
    targetType: "job_failure",
    targetId: id,
    before: { status: row.status, job: row.job, attempts: row.attempts },
    after: { status: action === "retry" ? "retried" : "discarded" },
  });
  return true;
}
