/**
 * `notifications.watch`, every minute: announces the AI upstream answering again and spikes of
 * webhook signature failures to the topics admins routed them to (lib/notifications/events.ts).
 */
import { defineCron } from "../lib/jobs/types.ts";
import { watchProduct } from "../lib/notifications/events.ts";

export const notificationsWatchCron = defineCron({
  name: "notifications.watch",
  schedule: "* * * * *",
  async run(ctx) {
    await watchProduct(ctx, ctx);
  },
});
