/**
 * Every job handler and schedule of the app, registered by main.ts. One module per job type;
 * each binds a handler to a job type declared in `lib/` (so `lib/` can enqueue without
 * importing this folder).
 */
import type { CronJob, JobHandler } from "../lib/jobs/types.ts";
import { reconcileCron } from "./reconcile.ts";

export const handlers: JobHandler[] = [];

export const crons: CronJob[] = [reconcileCron];
