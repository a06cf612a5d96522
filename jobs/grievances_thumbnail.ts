/** `grievances.thumbnail`: a thumbnail of a photo attachment (lib/grievances/thumbnails.ts). */
import { defineHandler } from "../lib/jobs/types.ts";
import { grievanceThumbnailJob } from "../lib/grievances/jobs.ts";
import type { Grievances } from "../lib/grievances/mod.ts";

export const grievancesThumbnailHandler = (grievances: Grievances | undefined) =>
  defineHandler(grievanceThumbnailJob, async ({ taskId }, _ctx, meta) => {
    if (!grievances) throw new Error("grievances are not part of this process");
    await grievances.thumbnail(taskId, meta);
  }, {
    reconcile: () => grievances?.overdue("thumbnail") ?? Promise.resolve([]),
  });
