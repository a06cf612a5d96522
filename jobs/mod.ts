/**
 * Every job handler and schedule of the app, registered by main.ts. One module per job type;
 * each binds a handler to a job type declared in `lib/` (so `lib/` can enqueue without
 * importing this folder). Handlers that need a service (the mailer, ...) receive it here.
 */
import type { Services } from "../lib/app.ts";
import type { CronJob, JobHandler } from "../lib/jobs/types.ts";
import { loginThrottleCleanupCron } from "./login_throttle_cleanup.ts";
import { paymentsCleanupCron } from "./payments_cleanup.ts";
import { paymentsPollDueHandler, paymentsPollHandler } from "./payments_poll.ts";
import { emailSendHandler } from "./email_send.ts";
import { chatSummarizeHandler } from "./chat_summarize.ts";
import { metricsDailyCron } from "./metrics_daily.ts";
import { walletSweepCron } from "./wallet_sweep.ts";
import { whatsappReplyHandler } from "./whatsapp_reply.ts";
import { whatsappSendHandler } from "./whatsapp_send.ts";
import { whatsappWebhookCleanupCron } from "./whatsapp_webhook_cleanup.ts";
import { notificationsDeliverHandler } from "./notifications_deliver.ts";
import { notificationsWatchCron } from "./notifications_watch.ts";
import { botsIngestHandler } from "./bots_ingest.ts";
import { botsWebhookHandler } from "./bots_webhook.ts";
import { grievancesClassifyHandler } from "./grievances_classify.ts";
import { grievancesThumbnailHandler } from "./grievances_thumbnail.ts";
import { telegramReplyHandler } from "./telegram_reply.ts";
import { telegramSendHandler } from "./telegram_send.ts";
import { telegramCleanupCron } from "./telegram_cleanup.ts";
import { chatAnswerEventsCleanupCron } from "./chat_answer_events_cleanup.ts";

/**
 * The services handlers use: built by lib/app.ts before the handlers are registered on the
 * queue (and before it starts), so a handler holds them, never a getter.
 */
export type JobServices = Pick<
  Services,
  "upstreams" | "payments" | "whatsapp" | "notifications" | "bots" | "grievances" | "telegram"
>;

export function jobHandlers(services: JobServices): JobHandler[] {
  return [
    emailSendHandler(services.upstreams.mailer),
    chatSummarizeHandler,
    paymentsPollHandler(services.payments),
    paymentsPollDueHandler(services.payments),
    whatsappReplyHandler(services.whatsapp),
    whatsappSendHandler(services.whatsapp),
    notificationsDeliverHandler(services.notifications),
    botsIngestHandler(services.bots.knowledge),
    botsWebhookHandler(services.bots.knowledge),
    grievancesClassifyHandler(services.grievances),
    grievancesThumbnailHandler(services.grievances),
    telegramReplyHandler(services.telegram),
    telegramSendHandler(services.telegram),
  ];
}

export const crons: CronJob[] = [
  walletSweepCron,
  paymentsCleanupCron,
  metricsDailyCron,
  whatsappWebhookCleanupCron,
  loginThrottleCleanupCron,
  notificationsWatchCron,
  telegramCleanupCron,
  chatAnswerEventsCleanupCron,
];
