/**
 * The notifications API's schemas (written once: they validate requests and generate the OpenAPI
 * document) and the JSON each domain object is answered as. Secrets go in, never out: a channel
 * answers how its secret is found (`secret.source`), never its value.
 */
import { AppError } from "../../../lib/errors.ts";
import { METHODS } from "../../../lib/notifications/methods/mod.ts";
import {
  type Channel,
  type Delivery,
  DELIVERY_STATUSES,
  type Publication,
  type Topic,
} from "../../../lib/notifications/model.ts";
import { textField } from "../../../lib/text.ts";
import { requireAdminOrScope } from "../../_auth.ts";
import { json, z } from "../_openapi.ts";

export const tags = ["notifications"];
export const manage = (c: Parameters<typeof requireAdminOrScope>[0]) =>
  requireAdminOrScope(c, "notifications:manage");

export const refusals = {
  403: json(z.any(), "Not an admin, or an API key without the scope"),
  422: json(z.any(), "The settings cannot be used; `details.issues` names each field"),
};

export const SecretSchema = z.union([
  z.object({ source: z.literal("env"), name: z.string() }),
  z.object({ source: z.literal("stored") }),
  z.object({ source: z.literal("none") }),
]).openapi("NotificationSecretRef", {
  description: "How the channel's secret is found at send time; the value is never shown",
});

export const ChannelSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  method: z.enum(METHODS),
  settings: z.record(z.string(), z.unknown()),
  recipient: z.string().openapi({ description: "Masked, as the delivery log shows it" }),
  secret: SecretSchema,
  createdAt: z.string().openapi({ format: "date-time" }),
  updatedAt: z.string().openapi({ format: "date-time" }),
}).openapi("NotificationChannel");

export const channelJson = (ch: Channel): z.infer<typeof ChannelSchema> => ({
  id: ch.id,
  name: ch.name,
  method: ch.method,
  settings: ch.settings,
  recipient: ch.recipient,
  secret: ch.secret,
  createdAt: ch.createdAt.toISOString(),
  updatedAt: ch.updatedAt.toISOString(),
});

export const ChannelBody = z.strictObject({
  name: textField().max(200),
  method: textField().max(40).openapi({ example: "slack", description: METHODS.join(", ") }),
  settings: z.record(z.string(), z.unknown()).default({}).openapi({
    description: "email: `to` (addresses), `subject`; slack: `channel`; telegram: `chat_id`; " +
      "whatsapp: `numbers` (E.164), `template` {name, language?} for outside the 24-hour " +
      "window; webhook: `url` (https, public)",
    example: { channel: "#alerts" },
  }),
  secret: z.union([
    z.strictObject({ env: textField().max(80) }),
    z.strictObject({ value: textField().max(2_000) }),
    z.null(),
  ]).optional().openapi({
    description: "`{env}` names a NOTIFY_* variable, `{value}` is stored encrypted, null " +
      "removes it; omitted on an update: unchanged",
  }),
});

export const TopicSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  description: z.string(),
  channelIds: z.array(z.uuid()),
  createdAt: z.string().openapi({ format: "date-time" }),
  updatedAt: z.string().openapi({ format: "date-time" }),
}).openapi("NotificationTopic");

export const topicJson = (t: Topic): z.infer<typeof TopicSchema> => ({
  id: t.id,
  name: t.name,
  description: t.description,
  channelIds: t.channelIds,
  createdAt: t.createdAt.toISOString(),
  updatedAt: t.updatedAt.toISOString(),
});

export const TopicBody = z.strictObject({
  name: textField().max(200).openapi({ example: "payment failed" }),
  description: textField().max(1_000).optional(),
  channelIds: z.array(textField().max(64)).max(100).default([]),
});

export const PublicationSchema = z.object({
  id: z.uuid(),
  topic: z.string(),
  createdAt: z.string().openapi({ format: "date-time" }),
  deliveries: z.array(z.object({ id: z.uuid(), channel: z.string(), method: z.enum(METHODS) })),
}).openapi("NotificationPublication");

export const publicationJson = (p: Publication): z.infer<typeof PublicationSchema> => ({
  id: p.id,
  topic: p.topic,
  createdAt: p.createdAt.toISOString(),
  deliveries: p.deliveries,
});

export const DeliverySchema = z.object({
  id: z.uuid(),
  publicationId: z.uuid(),
  topic: z.string(),
  channelId: z.uuid().nullable(),
  channel: z.string(),
  method: z.enum(METHODS),
  recipient: z.string(),
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  providerMessageId: z.string().nullable(),
  title: z.string().nullable(),
  text: z.string(),
  createdAt: z.string().openapi({ format: "date-time" }),
  updatedAt: z.string().openapi({ format: "date-time" }),
  sentAt: z.string().nullable().openapi({ format: "date-time" }),
}).openapi("NotificationDelivery");

export const deliveryJson = (d: Delivery): z.infer<typeof DeliverySchema> => ({
  ...d,
  createdAt: d.createdAt.toISOString(),
  updatedAt: d.updatedAt.toISOString(),
  sentAt: d.sentAt?.toISOString() ?? null,
});

export const notFound = (what: string) => new AppError("not_found", `This ${what} does not exist.`);
