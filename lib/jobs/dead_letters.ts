/**
 * Dead letters: jobs that exhausted their retries, kept in Postgres (`job_failures`) until an
 * operator retries or discards them (the admin screen calls these functions).
 */
import type { Database } from "../db/mod.ts";
import type { NamedEnqueuer } from "./types.ts";

export interface DeadLetter {
  id: string;
  jobId: string;
  job: string;
  payload: unknown;
  attempts: number;
  lastError: string;
  status: "dead" | "retried" | "discarded";
  firstSeen: Date;
  lastSeen: Date;
}

export async function listDeadLetters(
  db: Database,
  options: { limit?: number; before?: Date } = {},
): Promise<DeadLetter[]> {
  const limit = Math.min(options.limit ?? 50, 200);
  const before = options.before ?? new Date("9999-01-01");
  return await db.sql<DeadLetter[]>`
    select id, job_id as "jobId", job, payload, attempts, last_error as "lastError", status,
           first_seen as "firstSeen", last_seen as "lastSeen"
    from job_failures
    where status = 'dead' and last_seen < ${before}
    order by last_seen desc
    limit ${limit}`;
}

export async function countDeadLetters(db: Database): Promise<number> {
  const [{ n }] = await db.sql`select count(*)::int as n from job_failures where status = 'dead'`;
  return n;
}

/** Queues the job again as a fresh job (attempt 1); `false` if it is not an open dead letter. */
export async function retryDeadLetter(
  db: Database,
  queue: NamedEnqueuer,
  id: string,
): Promise<boolean> {
  return await db.sql.begin(async (tx) => {
    const [row] = await tx`select job, payload from job_failures
                           where id = ${id} and status = 'dead' for update`;
    if (!row) return false;
    await queue.enqueueByName(row.job, row.payload);
    await tx`update job_failures set status = 'retried', resolved_at = now() where id = ${id}`;
    return true;
  });
}

export async function discardDeadLetter(db: Database, id: string): Promise<boolean> {
  const rows = await db.sql`update job_failures set status = 'discarded', resolved_at = now()
                            where id = ${id} and status = 'dead' returning id`;
  return rows.length === 1;
}
