/**
 * `payments.daily_cleanup`, every day at 01:30: expires payments that never reached Paynow and
 * are past their deadline, and reports what is still unsettled or flagged for an admin.
 */
import { defineCron } from "../lib/jobs/types.ts";

export const paymentsCleanupCron = defineCron({
  name: "payments.daily_cleanup",
  schedule: "30 1 * * *",
  async run(ctx) {
    const sql = ctx.db.sql;
    const expired = await sql`
      update payments set status = 'expired', next_poll_at = null, settled_at = now(), updated_at = now()
      where status = 'created' and expires_at < now() - interval '1 hour'
      returning id`;
    for (const p of expired) {
      await sql`insert into payment_events (payment_id, source, status_from, status_to, note)
                values (${p.id}, 'expiry', 'created', 'expired', 'daily clean-up: never reached Paynow')`;
    }
    const [{ unsettled }] = await sql`
      select count(*)::int as unsettled from payments
      where status = 'sent' and expires_at < now() - interval '1 hour'`;
    const [{ flagged }] = await sql`
      select count(*)::int as flagged from payments
      where flag is not null and settled_at > now() - interval '1 day'`;
    const level = unsettled > 0 || flagged > 0 ? "warn" : "info";
    ctx.log[level]("payments daily report", { expired: expired.length, unsettled, flagged });
  },
});
