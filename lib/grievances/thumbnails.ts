/**
 * Thumbnails of photo attachments (the `grievances.thumbnail` job): a JPEG of at most 320 px a
 * side, made in a worker thread (thumbnail_worker.ts) so the main thread keeps serving, stored
 * beside the photo (`<grievance>/<attachment>.thumb.jpg`). A photo that cannot be decoded gets
 * no thumbnail (the task fails with the reason; the photo itself is still served).
 */
import { JobFailure, retryDelayMs } from "../jobs/types.ts";
import { grievanceThumbnailJob } from "./jobs.ts";
import { announce, failTask, finishTask, taskEvent, type TaskWork } from "./tasks.ts";

export const THUMBNAIL_SIZE = 320;
const WORKER_TIMEOUT_MS = 60_000;

/** Runs the worker on `bytes`; resolves with the thumbnail's bytes. */
export function makeThumbnail(bytes: Uint8Array, size = THUMBNAIL_SIZE): Promise<Uint8Array> {
  const worker = new Worker(new URL("./thumbnail_worker.ts", import.meta.url), { type: "module" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new Promise<Uint8Array>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error("thumbnail timed out")), WORKER_TIMEOUT_MS);
    worker.onmessage = (e: MessageEvent<{ ok: boolean; bytes?: Uint8Array; error?: string }>) =>
      e.data.ok
        ? resolve(e.data.bytes!)
        : reject(new Error(`not an image we can read: ${e.data.error}`));
    worker.onerror = (e) => {
      e.preventDefault();
      reject(new Error(e.message));
    };
    worker.postMessage({ bytes, size });
  }).finally(() => {
    // The worker ends with the promise, whichever way it settles.
    clearTimeout(timer);
    worker.terminate();
  });
}

/**
 * The `grievances.thumbnail` job's work on its claimed task (tasks.ts `runClaimedTask`). Throws
 * (for the queue to retry) until its last attempt.
 */
export const thumbnailTask: TaskWork = async (deps, task, meta) => {
  const { sql } = deps.db;
  const taskId = task.id;
  const [row] = await sql<
    { id: string; storage_key: string; reference: string; submitted_by: string | null }[]
  >`select a.id, a.storage_key, g.reference, g.submitted_by
    from grievance_attachments a join grievances g on g.id = a.grievance_id
    where a.id = ${task.attachmentId}`;
  if (!row) {
    await finishTask(sql, taskId);
    return;
  }
  const to = { submittedBy: row.submitted_by };
  try {
    const bytes = await deps.files.get(row.storage_key);
    if (!bytes) throw new Error("the photo is missing from the file store");
    const thumb = await makeThumbnail(bytes);
    const key = `${task.grievanceId}/${row.id}.thumb.jpg`;
    await deps.files.put(key, thumb);
    await sql`update grievance_attachments set thumbnail_key = ${key} where id = ${row.id}`;
    const done = await finishTask(sql, taskId);
    await announce(deps.db, deps.log, to, "task_status", taskEvent(done, row.reference));
  } catch (cause) {
    const message = (cause as Error)?.message ?? String(cause);
    const policy = grievanceThumbnailJob.retry;
    const again = task.attempts < policy.maxAttempts && !message.startsWith("not an image");
    const updated = await failTask(
      sql,
      taskId,
      message,
      again ? retryDelayMs(policy, task.attempts) : null,
    );
    await announce(deps.db, deps.log, to, "task_status", taskEvent(updated, row.reference));
    deps.log.warn("thumbnail not made", { taskId, attempt: meta.attempt, error: message });
    if (again) throw new JobFailure(message);
  }
};
