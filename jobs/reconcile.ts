/**
 * `jobs.reconcile`, every minute: finds recorded work whose job is overdue (lost with the KV
 * file, or with a process that died) and queues it again. See docs/jobs.md.
 */
import { defineCron } from "../lib/jobs/types.ts";

export const reconcileCron = defineCron({
  name: "jobs.reconcile",
  schedule: "* * * * *",
  async run(ctx) {
    await ctx.reconcile();
  },
});
