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

/**
 * Records a payload its job's schema refused (`enqueueMany`) as a dead letter with 0 attempts;
 * returns its job id. The id is derived from the job and the payload, so a reconciler that finds
 * the same bad row every minute leaves one dead letter, not one a minute (and one an operator
 * discarded stays discarded).
 */
export async function recordRefusedPayload(
  db: Database,
  job: string,
  payload: unknown,
  reason: string,
): Promise<string> {
  let text: string;
  try {
    text = JSON.stringify(payload) ?? "null";
  } catch {
    text = String(payload);
  }
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${job}\n${text}`));
  const id = "invalid-" +
    Array.from(new Uint8Array(digest).slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join(
      "",
    );
  await db.sql`
    insert into job_failures (job_id, job, payload, attempts, last_error)
    values (${id}, ${job}, ${db.sql.json((payload ?? null) as never)}, 0, ${reason})
    on conflict (job_id) do update set last_seen = now(), last_error = excluded.last_error`;
  return id;
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
