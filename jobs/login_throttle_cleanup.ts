/**
 * `accounts.login_throttle_cleanup`, every hour at :20: removes per-e-mail log-in failure counts
 * untouched for a day (lib/accounts/login_throttle.ts), so guesses at random addresses do not
 * pile up rows.
 */
import { forgetOldLoginFailures } from "../lib/accounts/login_throttle.ts";
import { defineCron } from "../lib/jobs/types.ts";

export const loginThrottleCleanupCron = defineCron({
  name: "accounts.login_throttle_cleanup",
  schedule: "20 * * * *",
  async run(ctx) {
    const deleted = await forgetOldLoginFailures(ctx.db.sql);
    if (deleted > 0) ctx.log.info("old log-in failure counts removed", { deleted });
  },
});
