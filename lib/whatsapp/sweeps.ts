/**
 * The WhatsApp channel's sweeps: the reconciler's queries for phones whose work waits too long
 * (jobs/whatsapp_reply.ts, jobs/whatsapp_send.ts), and the webhook log's pruning.
 */
import type { Database } from "../db/mod.ts";
import { QUARANTINE_REASONS } from "./quarantine.ts";
import { PHONE_NUMBER } from "./types.ts";

/**
 * Pending this long without a worker: the reconciler queues the phone again (a conversation:
 * sooner than other work; a job that was merely slow to start finds the lease taken).
 */
const OVERDUE_SECONDS = 15;

/**
 * Reconciler: phones with messages pending too long and no live worker.
 *
 * A pending message whose phone is not a phone number (stored before the webhook quarantined
 * such senders) can never be answered: it is closed here as failed, so it is neither found again
 * nor crowds out the others of the 500, and its phone is still returned once, for the queue to
 * refuse and record as a dead letter an operator sees.
 */
export async function overdueReplies(db: Database): Promise<string[]> {
  const closed = await db.sql<{ phone: string }[]>`
    update whatsapp_inbound set status = 'failed', processed_at = now(),
      error = ${QUARANTINE_REASONS.sender}
    where status = 'pending' and phone !~ ${PHONE_NUMBER.source}
    returning phone`;
  const rows = await db.sql<{ phone: string }[]>`
    select distinct i.phone from whatsapp_inbound i
    where i.status = 'pending' and i.received_at < now() - ${OVERDUE_SECONDS} * interval '1 second'
      and not exists (select 1 from whatsapp_leases l
                      where l.phone = i.phone and l.kind = 'reply' and l.leased_until > now())
    limit 500`;
  return uniquePhones([...closed, ...rows]);
}

/** Reconciler: phones with messages queued too long and no live sender (see overdueReplies). */
export async function overdueSends(db: Database): Promise<string[]> {
  const closed = await db.sql<{ phone: string }[]>`
    update whatsapp_outbound set status = 'failed', error = 'the recipient is not a phone number'
    where status = 'queued' and phone !~ ${PHONE_NUMBER.source}
    returning phone`;
  const rows = await db.sql<{ phone: string }[]>`
    select distinct o.phone from whatsapp_outbound o
    where o.status = 'queued'
      and coalesce(o.not_before, o.created_at) < now() - ${OVERDUE_SECONDS} * interval '1 second'
      and not exists (select 1 from whatsapp_leases l
                      where l.phone = o.phone and l.kind = 'send' and l.leased_until > now())
    limit 500`;
  return uniquePhones([...closed, ...rows]);
}

const uniquePhones = (rows: { phone: string }[]) => [...new Set(rows.map((r) => r.phone))];

/** Deletes webhook log rows older than `days`; returns how many. */
export async function pruneWebhookLog(db: Database, days: number): Promise<number> {
  const [{ n }] = await db.sql<{ n: number }[]>`
    with gone as (delete from whatsapp_webhook_log
                  where received_at < now() - ${days} * interval '1 day' returning 1)
    select count(*)::int as n from gone`;
  return n;
}
