/** Reading the webhook log and the channel's queues, for the admin page (routes/admin/webhooks). */
import type { Sql } from "../db/mod.ts";
import { allFieldsOf, type ColumnsOf } from "../db/rows.ts";

export interface WebhookLogEntry {
  id: string;
  receivedAt: Date;
  provider: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | null;
  bodyBytes: number;
  status: number;
  processingMs: number;
  messages: number;
  error: string | null;
}

/** The columns of a `whatsapp_webhook_log` row that are written as they are read. */
export type WebhookLogColumns = ColumnsOf<Omit<WebhookLogEntry, "id" | "receivedAt">>;

/** A `whatsapp_webhook_log` row: every column is an entry's field (the id is a bigserial: text). */
type WebhookLogRow = ColumnsOf<WebhookLogEntry>;

export interface WebhookLogFilter {
  provider?: "meta" | "twilio";
  /** "ok" (2xx), "refused" (4xx), "failed" (5xx), "problems" (any error noted). */
  outcome?: "ok" | "refused" | "failed" | "problems";
  /** Entries with a smaller id (the next page). */
  beforeId?: string;
  limit: number;
}

export async function listWebhookLog(sql: Sql, f: WebhookLogFilter): Promise<WebhookLogEntry[]> {
  const conditions = [sql`true`];
  if (f.provider) conditions.push(sql`provider = ${f.provider}`);
  if (f.outcome === "ok") conditions.push(sql`status between 200 and 299`);
  if (f.outcome === "refused") conditions.push(sql`status between 400 and 499`);
  if (f.outcome === "failed") conditions.push(sql`status >= 500`);
  if (f.outcome === "problems") conditions.push(sql`error is not null`);
  if (f.beforeId && /^\d{1,19}$/.test(f.beforeId)) conditions.push(sql`id < ${f.beforeId}`);
  const where = conditions.reduce((acc, c) => sql`${acc} and ${c}`);
  const rows = await sql<WebhookLogRow[]>`select * from whatsapp_webhook_log where ${where}
                                          order by id desc limit ${f.limit}`;
  return rows.map(allFieldsOf);
}

export interface ChannelStats {
  /** Webhook requests in the last 24 hours, and how many were refused (4xx). */
  requests24h: number;
  refused24h: number;
  /** Messages waiting for an answer, and answered in the last 24 hours. */
  pending: number;
  answered24h: number;
  /** Outbound messages waiting, failed or dropped in the last 24 hours. */
  queued: number;
  failed24h: number;
  dropped24h: number;
}

export async function channelStats(sql: Sql): Promise<ChannelStats> {
  const [[log], [inbound], [outbound]] = await Promise.all([
    sql`select count(*)::int as requests,
               count(*) filter (where status between 400 and 499)::int as refused
        from whatsapp_webhook_log where received_at > now() - interval '1 day'`,
    sql`select count(*) filter (where status = 'pending')::int as pending,
               count(*) filter (where status = 'answered'
                                  and processed_at > now() - interval '1 day')::int as answered
        from whatsapp_inbound`,
    sql`select count(*) filter (where status = 'queued')::int as queued,
               count(*) filter (where status = 'failed'
                                  and created_at > now() - interval '1 day')::int as failed,
               count(*) filter (where status = 'dropped'
                                  and created_at > now() - interval '1 day')::int as dropped
        from whatsapp_outbound`,
  ]);
  return {
    requests24h: log.requests,
    refused24h: log.refused,
    pending: inbound.pending,
    answered24h: inbound.answered,
    queued: outbound.queued,
    failed24h: outbound.failed,
    dropped24h: outbound.dropped,
  };
}

/**
 * Messages whose user has no reply yet, on every instance (the intake's bound, inbound.ts):
 * stored and not answered, plus answers queued and not yet sent.
 */
export async function countUnanswered(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select (select count(*) from whatsapp_inbound where status = 'pending')
         + (select count(*) from whatsapp_outbound where status = 'queued') as n`;
  return Number(row.n);
}
