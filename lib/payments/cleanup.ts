/**
 * The daily clean-up (`payments.daily_cleanup`): payments that never reached Paynow and are past
 * their deadline are expired (nothing can settle them: Paynow has no record of them), and what
 * is still unsettled or was flagged for an admin is counted for the report.
 */
import type { Sql } from "../db/mod.ts";

export interface CleanupReport {
  /** Payments expired now: never sent to Paynow, an hour past their deadline. */
  expired: number;
  /** Sent to Paynow, an hour past their deadline, still not settled (the poller's job). */
  unsettled: number;
  /** Flagged for an admin in the last day. */
  flagged: number;
}

export async function cleanUpPayments(sql: Sql): Promise<CleanupReport> {
  const expired = await sql<{ id: string }[]>`
    with gone as (
      update payments set status = 'expired', next_poll_at = null, settled_at = now(),
        updated_at = now()
      where status = 'created' and expires_at < now() - interval '1 hour'
      returning id
    ), recorded as (
      insert into payment_events (payment_id, source, status_from, status_to, note)
      select id, 'expiry', 'created', 'expired', 'daily clean-up: never reached Paynow' from gone
    )
    select id from gone`;
  const [counts] = await sql<{ unsettled: number; flagged: number }[]>`
    select
      (select count(*)::int from payments
       where status = 'sent' and expires_at < now() - interval '1 hour') as unsettled,
      (select count(*)::int from payments
       where flag is not null and settled_at > now() - interval '1 day') as flagged`;
  return { expired: expired.length, ...counts };
}
