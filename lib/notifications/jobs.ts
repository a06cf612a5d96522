/**
 * The notifications' job: one `notifications.deliver` per delivery, on the notifications lane.
 * The delivery row in Postgres is the record (status, attempts, when it is next due); the job
 * only carries its id, so a lost job is found again by the reconciler (deliver.ts).
 */
import { z } from "zod";
import { jobType } from "../jobs/types.ts";

export const notificationDeliverJob = jobType({
  name: "notifications.deliver",
  schema: z.object({ deliveryId: z.uuid() }),
  lane: "notifications",
  retry: { maxAttempts: 6, backoffMs: [1_000, 5_000, 30_000, 120_000, 600_000] },
});
