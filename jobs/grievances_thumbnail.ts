/** `grievances.thumbnail`: a thumbnail of a photo attachment (lib/grievances/thumbnails.ts). */
import { defineHandler } from "../lib/jobs/types.ts";
import { grievanceThumbnailJob } from "../lib/grievances/jobs.ts";
import type { Grievances } from "../lib/grievances/mod.ts";

export const grievancesThumbnailHandler = (grievances: Grievances) =>
  defineHandler(grievanceThumbnailJob, async ({ taskId }, _ctx, meta) => {
    await grievances.thumbnail(taskId, meta);
  }, {
    reconcile: () => grievances.overdue("thumbnail"),
  });
