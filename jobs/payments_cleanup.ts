/**
 * `payments.daily_cleanup`, every day at 01:30: expires payments that never reached Paynow and
 * are past their deadline, and reports what is still unsettled or flagged for an admin.
 */
import { defineCron } from "../lib/jobs/types.ts";
import { cleanUpPayments } from "../lib/payments/cleanup.ts";

export const paymentsCleanupCron = defineCron({
  name: "payments.daily_cleanup",
  schedule: "30 1 * * *",
  async run(ctx) {
    const report = await cleanUpPayments(ctx.db.sql);
    const level = report.unsettled > 0 || report.flagged > 0 ? "warn" : "info";
    ctx.log[level]("payments daily report", { ...report });
  },
});
