/**
 * Every job handler and schedule of the app, registered by main.ts. One module per job type;
 * each binds a handler to a job type declared in `lib/` (so `lib/` can enqueue without
 * importing this folder). Handlers that need a service (the mailer, ...) receive it here.
 */
import type { CronJob, JobHandler } from "../lib/jobs/types.ts";
import type { Mailer } from "../lib/mail/send.ts";
import { emailSendHandler } from "./email_send.ts";
import { reconcileCron } from "./reconcile.ts";
import { walletSweepCron } from "./wallet_sweep.ts";

export interface JobServices {
  mailer: Mailer;
}

export function jobHandlers(services: JobServices): JobHandler[] {
  return [emailSendHandler(services.mailer)];
}

export const crons: CronJob[] = [reconcileCron, walletSweepCron];
