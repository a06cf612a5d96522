/**
 * Outgoing webhooks per bot: its owner registers a URL for some of the events
 * (`conversation.started`, `message.created`, `feedback.given`); each event becomes one
 * delivery row per endpoint (Postgres records) and one job (KV delivers). A delivery is POSTed
 * as JSON, signed (lib/security/signing.ts), through the SSRF guard, and retried with growing
 * pauses until it is answered with a 2xx; every attempt is in its row (the delivery log).
 *
 * The endpoint's secret is made here, shown to the owner once, and kept encrypted at rest.
 */
import { z } from "zod";
import type { Database } from "../db/mod.ts";
import { type ColumnsOf, fieldsOf } from "../db/rows.ts";
import { AppError } from "../errors.ts";
import type { Enqueuer } from "../jobs/types.ts";
import type { Logger } from "../observability/log.ts";
import { decryptSecret, encryptSecret } from "../security/crypto.ts";
import { SIGNATURE_HEADER, signPayload } from "../security/signing.ts";
import { guardedFetch, SsrfError, type UrlPolicy } from "../security/ssrf.ts";
import { randomToken } from "../security/tokens.ts";
import { textField } from "../text.ts";
import { webhookJob } from "./jobs.ts";
import { allowedUrl } from "./urls.ts";
import {
  type DeliveryStatus,
  WEBHOOK_EVENTS,
  type WebhookEvent,
  WebhookEvent as WebhookEventSchema,
} from "./model.ts";

const SECRET_CONTEXT = "bot_webhooks.secret";
export const SECRET_PREFIX = "whsec_";
const TIMEOUT_MS = 10_000;

export interface WebhookDeps {
  db: Database;
  jobs: Enqueuer;
  log: Logger;
  encryptionKey: Uint8Array;
  urlPolicy: UrlPolicy;
}

export const WebhookInput = z.strictObject({
  url: textField().trim().max(2000),
  events: z.array(WebhookEventSchema).min(1).max(WEBHOOK_EVENTS.length)
    .default([...WEBHOOK_EVENTS]).transform((e) => [...new Set(e)]),
});

export interface Webhook {
  id: string;
  botId: string;
  url: string;
  events: WebhookEvent[];
  active: boolean;
  createdAt: Date;
}

/** A `bot_webhooks` row (the columns a {@link Webhook} is read from, and its secret). */
type WebhookRow = ColumnsOf<Webhook> & { secret_encrypted: string };

function toWebhook(r: WebhookRow): Webhook {
  return fieldsOf(r, ["id", "bot_id", "url", "events", "active", "created_at"]);
}

export interface Delivery {
  id: string;
  webhookId: string;
  event: WebhookEvent;
  status: DeliveryStatus;
  attempts: number;
  responseStatus: number | null;
  lastError: string | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

/** A `bot_webhook_deliveries` row (the columns a {@link Delivery} is read from, and its body). */
type DeliveryRow = ColumnsOf<Delivery> & {
  payload: Record<string, unknown>;
  next_attempt_at: Date;
};

function toDelivery(r: DeliveryRow): Delivery {
  return {
    ...fieldsOf(r, ["id", "webhook_id", "event", "status"]),
    attempts: Number(r.attempts),
    responseStatus: r.response_status === null ? null : Number(r.response_status),
    ...fieldsOf(r, ["last_error", "created_at", "delivered_at"]),
  };
}

/** Registers an endpoint; returns it with its secret (shown this once). */
export async function createWebhook(
  deps: WebhookDeps,
  botId: string,
  input: z.infer<typeof WebhookInput>,
): Promise<Webhook & { secret: string }> {
  const url = await allowedUrl(input.url, deps.urlPolicy, "receive webhooks");
  const [{ n }] = await deps.db
    .sql<{ n: number }[]>`select count(*)::int as n from bot_webhooks where bot_id = ${botId}`;
  if (n >= 10) throw new AppError("forbidden", "A bot may have 10 webhooks at most.");
  const secret = SECRET_PREFIX + randomToken(32);
  const [row] = await deps.db.sql<WebhookRow[]>`
    insert into bot_webhooks (bot_id, url, events, secret_encrypted)
    values (${botId}, ${url.href}, ${input.events}::text[],
            ${await encryptSecret(deps.encryptionKey, secret, SECRET_CONTEXT)})
    returning *`;
  return { ...toWebhook(row), secret };
}

export async function listWebhooks(deps: { db: Database }, botId: string): Promise<Webhook[]> {
  const rows = await deps.db.sql<WebhookRow[]>`select * from bot_webhooks where bot_id = ${botId}
                                 order by created_at`;
  return rows.map(toWebhook);
}

export async function deleteWebhook(
  deps: { db: Database },
  botId: string,
  id: string,
): Promise<boolean> {
  if (!z.uuid().safeParse(id).success) return false;
  const rows = await deps.db.sql`delete from bot_webhooks where id = ${id} and bot_id = ${botId}
                                 returning id`;
  return rows.length > 0;
}

/** The latest deliveries of the bot's endpoints (the delivery log). */
export async function listDeliveries(
  deps: { db: Database },
  botId: string,
  limit = 50,
): Promise<Delivery[]> {
  const rows = await deps.db.sql<DeliveryRow[]>`
    select d.* from bot_webhook_deliveries d join bot_webhooks w on w.id = d.webhook_id
    where w.bot_id = ${botId} order by d.created_at desc limit ${limit}`;
  return rows.map(toDelivery);
}

/** Records `event` for every active endpoint of the bot that wants it, and queues the sends. */
export async function emitEvent(
  deps: { db: Database; jobs: Enqueuer; log: Logger },
  botId: string,
  event: WebhookEvent,
  data: Record<string, unknown>,
): Promise<number> {
  const rows = await deps.db.sql<{ id: string }[]>`
    insert into bot_webhook_deliveries (webhook_id, event, payload)
    select id, ${event}, ${
    deps.db.sql.json({
      id: crypto.randomUUID(),
      type: event,
      createdAt: new Date().toISOString(),
      botId,
      data,
    } as never)
  }
    from bot_webhooks where bot_id = ${botId} and active and ${event} = any(events)
    returning id`;
  for (const row of rows) {
    await deps.jobs.enqueue(webhookJob, { deliveryId: row.id }, { dedupeKey: row.id });
  }
  return rows.length;
}

export type DeliveryOutcome = "delivered" | "retry" | "failed" | "skipped";

/**
 * One attempt at a delivery. A 2xx delivers it; anything else is recorded and, until
 * `lastAttempt`, thrown again by the job (which retries it later).
 */
export async function sendDelivery(
  deps: WebhookDeps,
  deliveryId: string,
  options: { lastAttempt?: boolean } = {},
): Promise<DeliveryOutcome> {
  const [row] = await deps.db.sql<
    (DeliveryRow & Pick<WebhookRow, "url" | "secret_encrypted" | "active">)[]
  >`
    select d.*, w.url, w.secret_encrypted, w.active from bot_webhook_deliveries d
    join bot_webhooks w on w.id = d.webhook_id where d.id = ${deliveryId}`;
  if (!row || row.status !== "pending" || !row.active) return "skipped";
  const body = JSON.stringify(row.payload);
  let status: number | null = null;
  let problem: string | null = null;
  try {
    const secret = await decryptSecret(deps.encryptionKey, row.secret_encrypted, SECRET_CONTEXT);
    const response = await guardedFetch(row.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "Hurukuro-Webhooks/1.0",
        [SIGNATURE_HEADER]: await signPayload(secret, body),
        "X-Hurukuro-Event": row.event,
        "X-Hurukuro-Delivery": deliveryId,
      },
      body,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    }, deps.urlPolicy);
    status = response.status;
    await response.body?.cancel();
    if (!response.ok) problem = `answered ${response.status}`;
  } catch (error) {
    problem = error instanceof SsrfError
      ? `refused: ${error.message}`
      : (error as Error)?.name === "TimeoutError"
      ? `no answer within ${TIMEOUT_MS / 1000} s`
      : "could not connect";
  }
  const delivered = problem === null;
  const final = delivered ? "delivered" : options.lastAttempt ? "failed" : "pending";
  await deps.db.sql`
    update bot_webhook_deliveries set attempts = attempts + 1, response_status = ${status},
      last_error = ${problem}, status = ${final},
      delivered_at = ${delivered ? new Date() : null},
      next_attempt_at = now() + interval '10 minutes'
    where id = ${deliveryId}`;
  if (delivered) return "delivered";
  if (final === "failed") return "failed";
  throw new Error(`webhook delivery ${deliveryId}: ${problem}`);
}

/** Pending deliveries whose job went missing (a lost KV message): to queue again. */
export async function overdueDeliveries(deps: { db: Database }): Promise<string[]> {
  const rows = await deps.db.sql<{ id: string }[]>`
    select id from bot_webhook_deliveries
    where status = 'pending' and next_attempt_at < now() - interval '5 minutes'
    order by next_attempt_at limit 500`;
  return rows.map((r) => r.id);
}
