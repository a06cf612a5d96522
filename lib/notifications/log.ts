/**
 * The delivery log: deliveries searched by text (Postgres full-text search over the message's
 * title and text: the generated `search` column of notification_publications and its GIN index),
 * topic, channel, status and time, newest first; and the success rate of each channel.
 */
import type { NotificationsDeps } from "./deps.ts";
import {
  type Delivery,
  type DeliveryRow,
  type DeliveryStatus,
  isUuid,
  toDelivery,
} from "./model.ts";

export interface DeliverySearch {
  /** Words of the message (web-search syntax: `"exact phrase"`, `-without`, `or`). */
  q?: string;
  topic?: string;
  /** A channel's id or name. */
  channel?: string;
  status?: DeliveryStatus;
  /** Created at or after. */
  from?: Date;
  /** Created before. */
  to?: Date;
  /** The `nextCursor` of the previous page. */
  after?: string;
  limit?: number;
}

/** A cursor: the last row's creation time (to the microsecond, as Postgres keeps it) and id. */
const CURSOR = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d(:\d\d)?)_([0-9a-f-]{36})$/i;

export const isCursor = (cursor: string) => CURSOR.test(cursor);

export async function searchDeliveries(
  deps: Pick<NotificationsDeps, "db">,
  search: DeliverySearch,
): Promise<{ deliveries: Delivery[]; nextCursor: string | null }> {
  const sql = deps.db.sql;
  const limit = Math.min(Math.max(search.limit ?? 50, 1), 200);
  const q = search.q?.trim();
  const channel = search.channel?.trim();
  // Compared as text cast in SQL: a timestamptz parameter would pass through a JS Date and
  // lose the microseconds, skipping rows that share the cursor's millisecond.
  const after = search.after?.match(CURSOR);
  const rows = await sql<(DeliveryRow & { cursor: string })[]>`
    select d.*, p.topic_name, p.title, p.body,
           d.created_at::text || '_' || d.id::text as cursor
    from notification_deliveries d join notification_publications p on p.id = d.publication_id
    where true
      ${q ? sql`and p.search @@ websearch_to_tsquery('simple', ${q})` : sql``}
      ${search.topic ? sql`and p.topic_name = ${search.topic}` : sql``}
      ${
    channel
      ? isUuid(channel) ? sql`and d.channel_id = ${channel}` : sql`and d.channel_name = ${channel}`
      : sql``
  }
      ${search.status ? sql`and d.status = ${search.status}` : sql``}
      ${search.from ? sql`and d.created_at >= ${search.from}` : sql``}
      ${search.to ? sql`and d.created_at < ${search.to}` : sql``}
      ${
    after
      ? sql`and (d.created_at, d.id) < (${after[1]}::text::timestamptz, ${after[4]}::uuid)`
      : sql``
  }
    order by d.created_at desc, d.id desc
    limit ${limit + 1}`;
  const page = rows.slice(0, limit);
  return {
    deliveries: page.map(toDelivery),
    nextCursor: rows.length > limit ? page[page.length - 1].cursor : null,
  };
}

export async function getDelivery(
  deps: Pick<NotificationsDeps, "db">,
  id: string,
): Promise<Delivery | null> {
  if (!isUuid(id)) return null;
  const [row] = await deps.db.sql<DeliveryRow[]>`
    select d.*, p.topic_name, p.title, p.body
    from notification_deliveries d join notification_publications p on p.id = d.publication_id
    where d.id = ${id}`;
  return row ? toDelivery(row) : null;
}

export interface ChannelStats {
  channelId: string | null;
  channel: string;
  method: string;
  sent: number;
  failed: number;
  /** Still queued, sending or retrying. */
  pending: number;
  /** Sent ÷ settled (sent + failed); null when none settled. */
  successRate: number | null;
}

interface ChannelCountsRow {
  channel_id: string | null;
  channel_name: string;
  method: string;
  sent: number;
  failed: number;
  pending: number;
}

/** Per channel, over deliveries created in the last `days` days. */
export async function channelStats(
  deps: Pick<NotificationsDeps, "db">,
  days = 7,
): Promise<ChannelStats[]> {
  const rows = await deps.db.sql<ChannelCountsRow[]>`
    select channel_id, channel_name, method,
           count(*) filter (where status = 'sent')::int as sent,
           count(*) filter (where status = 'failed')::int as failed,
           count(*) filter (where status in ('queued', 'sending', 'retrying'))::int as pending
    from notification_deliveries
    where created_at > now() - ${days} * interval '1 day'
    group by channel_id, channel_name, method
    order by channel_name`;
  return rows.map((r) => {
    const settled = r.sent + r.failed;
    return {
      channelId: r.channel_id,
      channel: r.channel_name,
      method: r.method,
      sent: r.sent,
      failed: r.failed,
      pending: r.pending,
      successRate: settled > 0 ? r.sent / settled : null,
    };
  });
}
