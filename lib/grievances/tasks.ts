/**
 * The background tasks started for a grievance (classification, thumbnails): recorded in
 * `grievance_tasks`, shown at `GET /api/v1/tasks/{id}`, and announced live on the event stream
 * as `task_status` (and `classification_complete` when the AI is done).
 *
 * Invariants, as for notification deliveries:
 * - a task is worked on by one job at a time: the job *claims* it (`running`, with a lease in
 *   `next_attempt_at`) in the statement that reads it, and a second job finds nothing to do;
 * - `succeeded` and `failed` are final; a failed classification is tried again only as a new
 *   task (an officer's retry), so the failure stays on record;
 * - a failed attempt is recorded before the job's retry is queued (`queued`, with the error and
 *   when it is next due); a worker that dies leaves `running` with a lease that runs out (short,
 *   renewed while the work runs: {@link renewTask}), and the reconciler hands the task to a new
 *   job.
 *
 * Live events go to the officers' stream (every staff member's `GET /api/v1/events`) and to
 * the account that submitted the grievance, if one did.
 */
import type { Database, Sql } from "../db/mod.ts";
import type { Tx } from "../wallet/ledger.ts";
import { publish } from "../events.ts";
import { LEASE_MS, whileRenewing } from "../jobs/lease.ts";
import type { Enqueuer, JobMeta, JobType } from "../jobs/types.ts";
import type { Logger } from "../observability/log.ts";
import type { GrievancesDeps } from "./deps.ts";
import { grievanceClassifyJob, grievanceThumbnailJob } from "./jobs.ts";
import {
  isUuid,
  type Task,
  type TaskKind,
  type TaskRow,
  type TaskStatus,
  toTask,
} from "./model.ts";

/**
 * The subscriber key of the staff's live events: officers' and admins' event streams subscribe
 * to it beside their own user id (routes/api/v1/events.ts).
 */
export const STAFF_EVENTS = "grievances:staff";

/** How long a worker holds a task (renewed while it works) before another may take it. */
const LEASE_SECONDS = LEASE_MS / 1000;
/** Due this long without a worker: the reconciler queues it again. */
const OVERDUE_SECONDS = 30;

export const JOB_OF: Record<TaskKind, JobType> = {
  classify: grievanceClassifyJob,
  thumbnail: grievanceThumbnailJob,
};

/** Records a task (inside the caller's transaction); queue its job after the commit. */
export async function createTask(
  tx: Tx,
  grievanceId: string,
  kind: TaskKind,
  attachmentId: string | null = null,
): Promise<string> {
  const [row] = await tx<{ id: string }[]>`insert into grievance_tasks
                           (grievance_id, kind, attachment_id, next_attempt_at)
                         values (${grievanceId}, ${kind}, ${attachmentId}, now()) returning id`;
  return row.id;
}

/** Queues the jobs of recorded tasks (after their commit); the reconciler catches a failure. */
export async function queueTasks(
  jobs: Enqueuer,
  tasks: { id: string; kind: TaskKind }[],
  log: Logger,
): Promise<void> {
  await Promise.all(tasks.map(async (t) => {
    try {
      await jobs.enqueue(JOB_OF[t.kind], { taskId: t.id }, { dedupeKey: `${t.id}:queued` });
    } catch (error) {
      log.warn("grievance task not queued; the reconciler will", { taskId: t.id, error });
    }
  }));
}

export async function getTask(sql: Sql, id: string): Promise<Task | null> {
  if (!isUuid(id)) return null;
  const [row] = await sql<TaskRow[]>`select * from grievance_tasks where id = ${id}`;
  return row ? toTask(row) : null;
}

export async function tasksOf(sql: Sql, grievanceId: string): Promise<Task[]> {
  const rows = await sql<
    TaskRow[]
  >`select * from grievance_tasks where grievance_id = ${grievanceId}
                         order by created_at, id`;
  return rows.map(toTask);
}

/** Claims a queued task (or one whose worker's lease ran out); null when there is nothing to do. */
export async function claimTask(sql: Sql, id: string, kind: TaskKind): Promise<Task | null> {
  const [row] = await sql<TaskRow[]>`
    update grievance_tasks set status = 'running', attempts = attempts + 1,
      started_at = coalesce(started_at, now()),
      next_attempt_at = now() + ${LEASE_SECONDS} * interval '1 second', updated_at = now()
    where id = ${id} and kind = ${kind}
      and (status = 'queued' or (status = 'running' and next_attempt_at < now()))
    returning *`;
  return row ? toTask(row) : null;
}

/** Keeps a claimed task's lease while its worker runs; false if it was lost. */
export async function renewTask(sql: Sql, id: string): Promise<boolean> {
  const rows = await sql`update grievance_tasks
                         set next_attempt_at = now() + ${LEASE_SECONDS} * interval '1 second'
                         where id = ${id} and status = 'running' returning id`;
  return rows.length === 1;
}

/** What a task's job does with the task it claimed. */
export type TaskWork = (
  deps: GrievancesDeps,
  task: Task,
  meta: Pick<JobMeta, "attempt">,
) => Promise<void>;

/**
 * A task's job: claims the task and runs `work` on it, renewing the lease while the work runs,
 * so a worker that dies holds the task for one lease only. Nothing to claim, nothing to do.
 */
export async function runClaimedTask(
  deps: Pick<GrievancesDeps, "db" | "log">,
  taskId: string,
  kind: TaskKind,
  work: (task: Task) => Promise<void>,
): Promise<void> {
  const { sql } = deps.db;
  const task = await claimTask(sql, taskId, kind);
  if (!task) return;
  await whileRenewing(
    () => renewTask(sql, taskId),
    () => work(task),
    { log: deps.log, what: JOB_OF[kind].name },
  );
}

export async function finishTask(sql: Sql, id: string): Promise<Task> {
  const [row] = await sql<TaskRow[]>`update grievance_tasks set status = 'succeeded', error = null,
                            next_attempt_at = null, finished_at = now(), updated_at = now()
                          where id = ${id} returning *`;
  return toTask(row);
}

/** An attempt failed: queued again after `retryInMs`, or (null) failed for good. */
export async function failTask(
  sql: Sql,
  id: string,
  error: string,
  retryInMs: number | null,
): Promise<Task> {
  const message = error.slice(0, 500);
  const [row] = retryInMs === null
    ? await sql<TaskRow[]>`update grievance_tasks set status = 'failed', error = ${message},
                  next_attempt_at = null, finished_at = now(), updated_at = now()
                where id = ${id} returning *`
    : await sql<TaskRow[]>`update grievance_tasks set status = 'queued', error = ${message},
                  next_attempt_at = now() + ${retryInMs} * interval '1 millisecond',
                  updated_at = now()
                where id = ${id} returning *`;
  return toTask(row);
}

/**
 * The reconciler: tasks of `kind` due for more than {@link OVERDUE_SECONDS} with no job on them,
 * and running ones whose worker's lease ran out (it died). Each is claimed by pushing its due
 * time forward by a lease, so two instances do not both take it.
 */
export async function overdueTasks(
  db: Database,
  kind: TaskKind,
): Promise<{ payload: { taskId: string }; dedupeKey: string }[]> {
  const rows = await db.sql<{ id: string; next_attempt_at: Date }[]>`
    update grievance_tasks set status = 'queued',
      next_attempt_at = now() + ${LEASE_SECONDS} * interval '1 second', updated_at = now()
    where id in (
      select id from grievance_tasks
      where kind = ${kind}
        and ((status = 'queued'
              and next_attempt_at < now() - ${OVERDUE_SECONDS} * interval '1 second')
             or (status = 'running' and next_attempt_at < now()))
      order by next_attempt_at limit 500 for update skip locked)
    returning id, next_attempt_at`;
  return rows.map((r) => ({
    payload: { taskId: r.id },
    dedupeKey: `${r.id}@${r.next_attempt_at.toISOString()}`,
  }));
}

export type TaskEventData = {
  taskId: string;
  grievanceId: string;
  reference: string;
  kind: TaskKind;
  status: TaskStatus;
  attempts: number;
  error: string | null;
};

/** Publishes a live event to the staff and to the grievance's submitter (if signed in). */
export async function announce(
  db: Database,
  log: Logger,
  to: { submittedBy: string | null },
  type: "task_status" | "classification_complete",
  data: Record<string, unknown>,
): Promise<void> {
  try {
    await publish(db, { userId: STAFF_EVENTS, type, data });
    if (to.submittedBy) await publish(db, { userId: to.submittedBy, type, data });
  } catch (error) {
    // Live events are a courtesy: the task's record is what counts.
    log.warn("grievance event not published", { type, error });
  }
}

/** The `task_status` event of a task. */
export function taskEvent(task: Task, reference: string): TaskEventData {
  return {
    taskId: task.id,
    grievanceId: task.grievanceId,
    reference,
    kind: task.kind,
    status: task.status,
    attempts: task.attempts,
    error: task.error,
  };
}
