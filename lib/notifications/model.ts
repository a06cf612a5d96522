/**
 * The notifications vocabulary and rows: a **channel** (a method and its settings: where a
 * message goes and how), a **topic** (a named group of channels: "payment failed"), a
 * **publication** (one message published to a topic) and its **deliveries** (one per channel,
 * each retried and logged on its own).
 *
 * Each list is written once here; the zod enums, the types and the SQL CHECKs in
 * migrations/0011_notifications.sql derive from or are tested against these.
 */
import { isUniqueViolation } from "../db/errors.ts";
import { type ColumnsOf, fieldsOf } from "../db/rows.ts";
import { AppError } from "../errors.ts";
import type { Method } from "./methods/mod.ts";

export { METHODS } from "./methods/mod.ts";
export type { Method };

export const DELIVERY_STATUSES = ["queued", "sending", "sent", "retrying", "failed"] as const;
export type DeliveryStatus = typeof DELIVERY_STATUSES[number];

/**
 * What the product announces, for an admin to route to a topic (lib/notifications/events.ts
 * finds each in the product's records).
 */
export const PRODUCT_EVENTS = [
  "payment.paid",
  "payment.failed",
  "payment.expired",
  "job.dead_lettered",
  "ai.upstream_down",
  "ai.upstream_recovered",
  "webhook.signature_spike",
  "account.signed_up",
  "grievance.created",
  "conversation.message",
] as const;
export type ProductEvent = typeof PRODUCT_EVENTS[number];

/** How a channel's secret is found at send time; never its value. */
export type SecretRef =
  | { source: "env"; name: string }
  | { source: "stored" }
  | { source: "none" };

export interface Channel {
  id: string;
  name: string;
  method: Method;
  settings: Record<string, unknown>;
  /** The masked "to" the delivery log shows. */
  recipient: string;
  secret: SecretRef;
  createdAt: Date;
  updatedAt: Date;
}

export interface Topic {
  id: string;
  name: string;
  description: string;
  channelIds: string[];
  createdAt: Date;
  updatedAt: Date;
}

/** What is published: markdown, rendered for each channel's method. */
export interface Message {
  title?: string | null;
  text: string;
}

export interface Delivery {
  id: string;
  publicationId: string;
  topic: string;
  channelId: string | null;
  channel: string;
  method: Method;
  recipient: string;
  status: DeliveryStatus;
  attempts: number;
  lastError: string | null;
  providerMessageId: string | null;
  title: string | null;
  text: string;
  createdAt: Date;
  updatedAt: Date;
  sentAt: Date | null;
}

export interface Publication {
  id: string;
  topic: string;
  createdAt: Date;
  deliveries: { id: string; channel: string; method: Method }[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids come from URLs and forms: anything else is "no such row", not a database error. */
export const isUuid = (value: string) => UUID.test(value);

/**
 * Runs a write of a row whose name is unique: a unique constraint refusing it (SQLSTATE 23505)
 * is a name already taken, a `conflict` on the `name` field (`what` is "A topic", "A channel").
 */
export async function withUniqueName<T>(
  what: string,
  name: string,
  write: () => Promise<T>,
): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new AppError("conflict", `${what} named "${name}" already exists.`, { field: "name" });
    }
    throw error;
  }
}

/** A `notification_channels` row. */
export type ChannelRow = ColumnsOf<Omit<Channel, "secret">> & {
  secret_env: string | null;
  secret_sealed: string | null;
};

export function toChannel(row: ChannelRow): Channel {
  return {
    ...fieldsOf(row, ["id", "name", "method", "settings", "recipient"]),
    secret: row.secret_env
      ? { source: "env", name: row.secret_env }
      : row.secret_sealed
      ? { source: "stored" }
      : { source: "none" },
    ...fieldsOf(row, ["created_at", "updated_at"]),
  };
}

/** A `notification_topics` row with the ids of its channels (`channel_ids`, aggregated). */
export interface TopicRow {
  id: string;
  name: string;
  description: string;
  channel_ids: string[] | null;
  created_at: Date;
  updated_at: Date;
}

export function toTopic(row: TopicRow): Topic {
  const { channel_ids, created_at, updated_at, ...same } = row;
  return { ...same, channelIds: channel_ids ?? [], createdAt: created_at, updatedAt: updated_at };
}

/** A `notification_deliveries` row with its publication's topic, title and body. */
export interface DeliveryRow {
  id: string;
  publication_id: string;
  topic_name: string;
  channel_id: string | null;
  channel_name: string;
  method: Method;
  recipient: string;
  status: DeliveryStatus;
  attempts: number;
  last_error: string | null;
  provider_message_id: string | null;
  title: string | null;
  body: string;
  created_at: Date;
  updated_at: Date;
  sent_at: Date | null;
}

export function toDelivery(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    publicationId: row.publication_id,
    topic: row.topic_name,
    channelId: row.channel_id,
    channel: row.channel_name,
    method: row.method,
    recipient: row.recipient,
    status: row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    providerMessageId: row.provider_message_id,
    title: row.title,
    text: row.body,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    sentAt: row.sent_at,
  };
}
