/**
 * The grievances' jobs. Each carries only a task's id: the task row in Postgres is the record
 * (status, attempts, when it is next due), so a lost job is found again by the reconciler
 * (tasks.ts) and a redelivered one finds its task already claimed or done.
 *
 * Classification runs on the `priority` lane: capacity reserved for AI work a person waits on,
 * so it never queues behind bulk LLM work on the `llm` lane. Its retries back off exponentially
 * (2 s, 10 s, 1 min, 5 min): about six minutes in which an upstream may come back before the
 * grievance is marked "classification failed" for an officer to retry.
 */
import { z } from "zod";
import { jobType } from "../jobs/types.ts";

export const grievanceClassifyJob = jobType({
  name: "grievances.classify",
  schema: z.object({ taskId: z.uuid() }),
  lane: "priority",
  retry: { maxAttempts: 5, backoffMs: [2_000, 10_000, 60_000, 300_000] },
});

/** Thumbnails are CPU work (decoding a photo), done in a worker off the main thread. */
export const grievanceThumbnailJob = jobType({
  name: "grievances.thumbnail",
  schema: z.object({ taskId: z.uuid() }),
  lane: "default",
  retry: { maxAttempts: 3, backoffMs: [5_000, 60_000] },
});
