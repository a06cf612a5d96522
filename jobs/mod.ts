/**
 * Every job handler and schedule of the app, registered by main.ts. One module per job type;
 * each binds a handler to a job type declared in `lib/` (so `lib/` can enqueue without
 * importing this folder). Handlers that need a service (the mailer, ...) receive it here.
 */
import type { CronJob, JobHandler } from "../lib/jobs/types.ts";
import type { Mailer } from "../lib/mail/send.ts";
import type { Payments } from "../lib/payments/model.ts";
import { loginThrottleCleanupCron } from "./login_throttle_cleanup.ts";
import { paymentsCleanupCron } from "./payments_cleanup.ts";
import { paymentsPollDueHandler, paymentsPollHandler } from "./payments_poll.ts";
import { emailSendHandler } from "./email_send.ts";
import { chatSummarizeHandler } from "./chat_summarize.ts";
import { metricsDailyCron } from "./metrics_daily.ts";
import { reconcileCron } from "./reconcile.ts";
import { walletSweepCron } from "./wallet_sweep.ts";
import type { ChannelDeps } from "../lib/whatsapp/channel.ts";
import { whatsappReplyHandler } from "./whatsapp_reply.ts";
import { whatsappSendHandler } from "./whatsapp_send.ts";
import { whatsappWebhookCleanupCron } from "./whatsapp_webhook_cleanup.ts";
import type { Notifications } from "../lib/notifications/mod.ts";
import { notificationsDeliverHandler } from "./notifications_deliver.ts";
import { notificationsWatchCron } from "./notifications_watch.ts";

export interface JobServices {
  mailer: Mailer;
  /** Built after the queue exists (payments enqueue their next poll), hence a function. */
  payments: () => Payments;
  /** The WhatsApp channel, null when WhatsApp is not configured (built after the queue too). */
  whatsappChannel?: () => ChannelDeps | null;
  notifications?: Notifications;
}

export function jobHandlers(services: JobServices): JobHandler[] {
  const whatsapp = services.whatsappChannel ?? (() => null);
  return [
    emailSendHandler(services.mailer),
    chatSummarizeHandler,
    paymentsPollHandler(services.payments),
    paymentsPollDueHandler(services.payments),
    whatsappReplyHandler(whatsapp),
    whatsappSendHandler(whatsapp),
    notificationsDeliverHandler(services.notifications),
  ];
}

export const crons: CronJob[] = [
  reconcileCron,
  walletSweepCron,
  paymentsCleanupCron,
  metricsDailyCron,
  whatsappWebhookCleanupCron,
  loginThrottleCleanupCron,
  notificationsWatchCron,
];
