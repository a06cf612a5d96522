/**
 * `whatsapp.webhook_log_cleanup`, every day at 02:10: deletes webhook log rows older than
 * WHATSAPP_WEBHOOK_LOG_DAYS (default 14), and free per-phone leases kept for their last send.
 */
import { defineCron } from "../lib/jobs/types.ts";
import { pruneWebhookLog } from "../lib/whatsapp/sweeps.ts";
import { pruneLeases } from "../lib/whatsapp/leases.ts";

export const whatsappWebhookCleanupCron = defineCron({
  name: "whatsapp.webhook_log_cleanup",
  schedule: "10 2 * * *",
  async run(ctx) {
    const days = ctx.config.whatsapp.webhookLogDays;
    const deleted = await pruneWebhookLog(ctx.db, days);
    ctx.log.info("webhook log pruned", { deleted, keptDays: days });
    const leases = await pruneLeases(ctx.db);
    if (leases > 0) ctx.log.info("free WhatsApp leases pruned", { deleted: leases });
  },
});
