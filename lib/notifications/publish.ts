/**
 * Publishing: one publication row and one delivery per channel of the topic, written in one
 * statement, then one `notifications.deliver` job per delivery. A dedupe key (an API
 * `Idempotency-Key`, a product event's id) makes it idempotent per topic: the same key returns
 * the first publication and records nothing; the same key with another message is a conflict.
 * A topic without channels refuses the message (409) and records nothing.
 */
import { z } from "zod";
import { AppError } from "../errors.ts";
import type { Enqueuer } from "../jobs/types.ts";
import { sha256Hex } from "../security/tokens.ts";
import { textField, UNSTORABLE_TEXT } from "../text.ts";
import type { NotificationsDeps } from "./deps.ts";
import { notificationDeliverJob } from "./jobs.ts";
import type { Message, Method, Publication } from "./model.ts";

export const MessageSchema = z.strictObject({
  title: textField().trim().max(200).nullish(),
  text: textField().trim().min(1).max(20_000),
});

export interface PublishOptions {
  /** Publishing again with this key (to the same topic) records nothing. */
  dedupeKey?: string;
  /** Who published, for the log: `api`, `admin`, `event:payment.paid`, `code`. */
  source?: string;
}

export interface PublishResult {
  publication: Publication;
  /** True when the dedupe key had been used: `publication` is the first one. */
  deduplicated: boolean;
}

function checkMessage(message: Message): z.output<typeof MessageSchema> {
  const parsed = MessageSchema.safeParse(message);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue.path.map(String).join(".") || "message";
  throw new AppError(
    "validation_failed",
    `${field}: ${issue.message === UNSTORABLE_TEXT ? UNSTORABLE_TEXT : issue.message}`,
    { field },
  );
}

interface DeliveryRow {
  id: string;
  publication_id: string;
  channel_name: string;
  method: Method;
  published_at: Date;
}

function toPublication(
  publication: { id: string; createdAt: Date },
  topic: string,
  rows: DeliveryRow[],
): Publication {
  const sorted = [...rows].sort((a, b) => a.channel_name.localeCompare(b.channel_name));
  return {
    ...publication,
    topic,
    deliveries: sorted.map((r) => ({ id: r.id, channel: r.channel_name, method: r.method })),
  };
}

export async function publish(
  deps: Pick<NotificationsDeps, "db" | "log">,
  jobs: Enqueuer,
  topic: string,
  message: Message,
  options: PublishOptions = {},
): Promise<PublishResult> {
  const m = checkMessage(message);
  const sql = deps.db.sql;
  const requestHash = options.dedupeKey
    ? await sha256Hex(JSON.stringify([m.title ?? null, m.text]))
    : null;
  const rows = await sql<DeliveryRow[]>`
    with t as (select id, name from notification_topics where name = ${topic}),
    ch as (
      select c.id, c.name, c.method, c.recipient from notification_topic_channels tc
      join t on t.id = tc.topic_id join notification_channels c on c.id = tc.channel_id
    ),
    pub as (
      insert into notification_publications (topic_id, topic_name, dedupe_key, request_hash,
                                             title, body, source)
      select t.id, t.name, ${options.dedupeKey ?? null}, ${requestHash}, ${m.title ?? null},
             ${m.text}, ${options.source ?? "code"}
      from t where exists (select 1 from ch)
      on conflict (topic_id, dedupe_key) do nothing
      returning id, created_at
    )
    insert into notification_deliveries (publication_id, channel_id, channel_name, method,
                                         recipient, next_attempt_at)
    select pub.id, ch.id, ch.name, ch.method, ch.recipient, now() from pub, ch
    returning id, publication_id, channel_name, method,
              (select created_at from pub) as published_at`;
  if (rows.length === 0) return await notPublished(deps, topic, options.dedupeKey, requestHash);

  const enqueued = await Promise.allSettled(
    rows.map((r) => jobs.enqueue(notificationDeliverJob, { deliveryId: r.id })),
  );
  const lost = enqueued.filter((e) => e.status === "rejected");
  if (lost.length > 0) {
    // Recorded all the same: the reconciler queues them once they are overdue.
    deps.log.error("notification deliveries recorded but not queued", {
      topic,
      count: lost.length,
      error: (lost[0] as PromiseRejectedResult).reason,
    });
  }
  const first = { id: rows[0].publication_id, createdAt: rows[0].published_at };
  return { publication: toPublication(first, topic, rows), deduplicated: false };
}

/** Why nothing was recorded: no such topic, no channels, or the dedupe key was used. */
async function notPublished(
  deps: Pick<NotificationsDeps, "db">,
  topic: string,
  dedupeKey: string | undefined,
  requestHash: string | null,
): Promise<PublishResult> {
  const sql = deps.db.sql;
  const [t] = await sql`select t.id, t.name,
                          exists (select 1 from notification_topic_channels tc
                                  where tc.topic_id = t.id) as has_channels
                        from notification_topics t where t.name = ${topic}`;
  if (!t) throw new AppError("not_found", `There is no topic named "${topic}".`);
  if (dedupeKey) {
    const [p] = await sql`select id, created_at, request_hash from notification_publications
                          where topic_id = ${t.id} and dedupe_key = ${dedupeKey}`;
    if (p) {
      if (p.request_hash !== requestHash) {
        throw new AppError(
          "conflict",
          "This idempotency key was already used to publish a different message to this topic.",
          { field: "idempotency-key" },
        );
      }
      const rows = await sql<DeliveryRow[]>`
        select d.id, d.publication_id, d.channel_name, d.method, p.created_at as published_at
        from notification_deliveries d join notification_publications p on p.id = d.publication_id
        where d.publication_id = ${p.id}`;
      return {
        publication: toPublication({ id: p.id, createdAt: p.created_at }, t.name, rows),
        deduplicated: true,
      };
    }
  }
  if (!t.has_channels) {
    throw new AppError(
      "conflict",
      `The topic "${topic}" has no channels, so there is nowhere to send this message. ` +
        "Add a channel to the topic first; nothing was recorded.",
    );
  }
  // The topic lost its channels or the key was taken between the two reads: say so plainly.
  throw new AppError("conflict", "The topic changed while publishing; publish again.");
}
