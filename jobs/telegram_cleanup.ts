/**
 * `telegram.cleanup`, every day at 02:20: deletes closed Telegram updates (and the messages
 * sent for them) older than 30 days, and link codes a day past their expiry. Telegram delivers
 * an update again for a day at most, so the de-duplication never needs older rows.
 */
import { defineCron } from "../lib/jobs/types.ts";
import { pruneUpdates } from "../lib/telegram/reply.ts";

const KEEP_DAYS = 30;

export const telegramCleanupCron = defineCron({
  name: "telegram.cleanup",
  schedule: "20 2 * * *",
  async run(ctx) {
    const deleted = await pruneUpdates(ctx.db, KEEP_DAYS);
    ctx.log.info("Telegram updates pruned", { deleted, keptDays: KEEP_DAYS });
  },
});
