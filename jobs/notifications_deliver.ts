/**
 * `notifications.deliver`: sends one delivery through its channel (lib/notifications/deliver.ts),
 * recording the outcome; its reconcile sweep re-queues deliveries whose job was lost.
 */
import { defineHandler } from "../lib/jobs/types.ts";
import { overdueDeliveries } from "../lib/notifications/deliver.ts";
import { notificationDeliverJob } from "../lib/notifications/jobs.ts";
import type { Notifications } from "../lib/notifications/mod.ts";

export const notificationsDeliverHandler = (notifications: Notifications) =>
  defineHandler(notificationDeliverJob, async ({ deliveryId }, ctx, meta) => {
    await notifications.deliver(ctx, deliveryId, meta);
  }, {
    reconcile: (ctx) => overdueDeliveries(ctx),
  });
