/**
 * `grievances.classify`: transcribes a grievance's voice notes and classifies, summarises and
 * translates it (lib/grievances/classify.ts); its reconcile sweep re-queues tasks whose job was
 * lost.
 */
import { defineHandler } from "../lib/jobs/types.ts";
import { grievanceClassifyJob } from "../lib/grievances/jobs.ts";
import type { Grievances } from "../lib/grievances/mod.ts";

export const grievancesClassifyHandler = (grievances: Grievances) =>
  defineHandler(grievanceClassifyJob, async ({ taskId }, _ctx, meta) => {
    await grievances.classify(taskId, meta);
  }, {
    reconcile: () => grievances.overdue("classify"),
  });
