/**
 * Delivering one delivery (the `notifications.deliver` job), and finding deliveries whose job
 * was lost (its reconciler).
 *
 * Invariants:
 * - a delivery is sent by one worker at a time: the job *claims* it (`sending`, with a lease in
 *   `next_attempt_at`) in the statement that reads it, and a second job finds nothing to do;
 * - `sent` is final; a `failed` delivery is sent again only by a new job (a dead letter retried
 *   by an admin);
 * - a failed attempt is recorded before the job's retry is queued: `retrying` with the error and
 *   when it is next due (at least the upstream's Retry-After), or `failed` once no retry can help
 *   or the attempts are spent, then the job gives up into the dead letters;
 * - a worker that dies mid-send leaves `sending` with a lease that runs out (short, renewed
 *   while the send runs: lib/jobs/lease.ts): the reconciler hands it to a new job. The upstream
 *   may then see the message twice; webhooks carry the delivery id so a receiver can drop the
 *   repeat.
 */
import { LEASE_MS, whileRenewing } from "../jobs/lease.ts";
import { JobFailure, type JobMeta, retryDelayMs } from "../jobs/types.ts";
import type { Enqueuer } from "../jobs/types.ts";
import type { NotificationsDeps } from "./deps.ts";
import { sendServices } from "./deps.ts";
import { notificationDeliverJob } from "./jobs.ts";
import { type Method, methodModule } from "./methods/mod.ts";
import { SendError } from "./methods/types.ts";
import { resolveSecrets } from "./secrets.ts";

/** A delivery claimed for sending, with its publication and channel (deleted: all null). */
type ClaimedDelivery =
  & {
    id: string;
    attempts: number;
    topic_name: string;
    title: string | null;
    body: string;
    published_at: Date;
  }
  & (
    | {
      channel_id: string;
      method: Method;
      settings: unknown;
      secret_env: string | null;
      secret_sealed: string | null;
    }
    | { channel_id: null; method: null; settings: null; secret_env: null; secret_sealed: null }
  );

/** How long a sender holds a delivery (renewed while it sends) before another may take it. */
const SEND_LEASE_SECONDS = LEASE_MS / 1000;
/** Due this long without a worker: the reconciler queues it again. */
const OVERDUE_SECONDS = 30;

export async function deliver(
  deps: NotificationsDeps,
  jobs: Enqueuer,
  deliveryId: string,
  meta: Pick<JobMeta, "attempt">,
): Promise<void> {
  const sql = deps.db.sql;
  const [row] = await sql<ClaimedDelivery[]>`
    with claimed as (
      update notification_deliveries set status = 'sending', attempts = attempts + 1,
        next_attempt_at = now() + ${SEND_LEASE_SECONDS} * interval '1 second', updated_at = now()
      where id = ${deliveryId}
        and (status in ('queued', 'retrying', 'failed')
             or (status = 'sending' and next_attempt_at < now()))
      returning id, publication_id, channel_id, attempts
    )
    select claimed.id, claimed.channel_id, claimed.attempts, p.topic_name, p.title, p.body,
           p.created_at as published_at, c.method, c.settings, c.secret_env, c.secret_sealed
    from claimed join notification_publications p on p.id = claimed.publication_id
    left join notification_channels c on c.id = claimed.channel_id`;
  if (!row) {
    deps.log.debug("notification delivery: nothing to do", { deliveryId });
    return;
  }
  const log = deps.log.child({ deliveryId, method: row.method, attempt: meta.attempt });
  try {
    if (!row.channel_id) throw new SendError("the channel was deleted", false);
    const module = methodModule(row.method);
    const settings = module.settings.safeParse(row.settings);
    if (!settings.success) {
      throw new SendError("the channel's settings are no longer valid: edit the channel", false);
    }
    const secrets = await resolveSecrets(deps.config, {
      id: row.channel_id,
      secret_env: row.secret_env,
      secret_sealed: row.secret_sealed,
    });
    const renew = async () =>
      (await sql`update notification_deliveries
                 set next_attempt_at = now() + ${SEND_LEASE_SECONDS} * interval '1 second'
                 where id = ${deliveryId} and status = 'sending' returning id`).length === 1;
    const sent = await whileRenewing(renew, () =>
      module.send(
        {
          deliveryId,
          topic: row.topic_name,
          title: row.title,
          text: row.body,
          publishedAt: row.published_at,
        },
        settings.data,
        secrets,
        sendServices(deps, jobs),
      ), { log, what: "notifications.deliver" });
    await sql`update notification_deliveries set status = 'sent', last_error = null,
                provider_message_id = ${sent.providerMessageId}, next_attempt_at = null,
                sent_at = now(), updated_at = now()
              where id = ${deliveryId}`;
    log.info("notification sent", { attempts: row.attempts });
  } catch (error) {
    if (!(error instanceof SendError)) {
      // Ours, not the upstream's (a database hiccup): free the claim and let the queue retry.
      await sql`update notification_deliveries set status = 'retrying', next_attempt_at = now(),
                  last_error = 'interrupted: will retry', updated_at = now()
                where id = ${deliveryId} and status = 'sending'`.catch(() => {});
      throw error;
    }
    const policy = notificationDeliverJob.retry;
    const again = error.retryable && meta.attempt < policy.maxAttempts;
    const message = error.message.slice(0, 500);
    if (again) {
      const delay = retryDelayMs(policy, meta.attempt, error.retryAfterMs);
      await sql`update notification_deliveries set status = 'retrying', last_error = ${message},
                  next_attempt_at = now() + ${delay} * interval '1 millisecond', updated_at = now()
                where id = ${deliveryId}`;
      log.warn("notification not sent, will retry", { retryInMs: delay, error: message });
      throw new JobFailure(message, { retryAfterMs: error.retryAfterMs });
    }
    await sql`update notification_deliveries set status = 'failed', last_error = ${message},
                next_attempt_at = null, updated_at = now()
              where id = ${deliveryId}`;
    log.error("notification failed", { attempts: row.attempts, error: message });
    throw new JobFailure(message, { retryable: false });
  }
}

/**
 * The reconciler: deliveries due for more than {@link OVERDUE_SECONDS} with no job working on
 * them (their job was lost with a KV file or a process), and `sending` ones whose sender's lease
 * ran out (it died). Each is claimed by pushing its due time forward by a lease (a `sending` one
 * goes back to `retrying`), so two instances do not both take it.
 */
export async function overdueDeliveries(
  deps: Pick<NotificationsDeps, "db">,
): Promise<{ payload: { deliveryId: string }; dedupeKey: string }[]> {
  const rows = await deps.db.sql<{ id: string; next_attempt_at: Date }[]>`
    update notification_deliveries
    set status = case when status = 'sending' then 'retrying' else status end,
        next_attempt_at = now() + ${SEND_LEASE_SECONDS} * interval '1 second', updated_at = now()
    where id in (
      select id from notification_deliveries
      where (status in ('queued', 'retrying')
             and next_attempt_at < now() - ${OVERDUE_SECONDS} * interval '1 second')
         or (status = 'sending' and next_attempt_at < now())
      order by next_attempt_at limit 500 for update skip locked)
    returning id, next_attempt_at`;
  return rows.map((r) => ({
    payload: { deliveryId: r.id },
    dedupeKey: `${r.id}@${r.next_attempt_at.toISOString()}`,
  }));
}
