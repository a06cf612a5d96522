/**
 * `/api/v1/notifications/...`: notification channels, topics, the routing of product events and
 * the delivery log, for admins (or an admin's API key with `notifications:manage`); and
 * `POST /api/v1/topics/{name}/publish` for callers with `notifications:publish`
 * (lib/notifications). Secrets go in, never out: a channel answers how its secret is found
 * (`secret.source`), never its value.
 */
import { createRoute } from "@hono/zod-openapi";
import { AppError } from "../../../lib/http/errors.ts";
import { isCursor } from "../../../lib/notifications/log.ts";
import { METHODS } from "../../../lib/notifications/methods/mod.ts";
import {
  type Channel,
  type Delivery,
  DELIVERY_STATUSES,
  PRODUCT_EVENTS,
  type Publication,
  type Topic,
} from "../../../lib/notifications/model.ts";
import { textField } from "../../../lib/text.ts";
import { requireAdminOrScope } from "../../_auth.ts";
import type { AppContext } from "../../_context.ts";
import { apiRouter, bearer, errors, json, jsonBody, z } from "../_openapi.ts";

const tags = ["notifications"];
const manage = (c: Parameters<typeof requireAdminOrScope>[0]) =>
  requireAdminOrScope(c, "notifications:manage");

const refusals = {
  403: json(z.any(), "Not an admin, or an API key without the scope"),
  422: json(z.any(), "The settings cannot be used; `details.issues` names each field"),
};

const SecretSchema = z.union([
  z.object({ source: z.literal("env"), name: z.string() }),
  z.object({ source: z.literal("stored") }),
  z.object({ source: z.literal("none") }),
]).openapi("NotificationSecretRef", {
  description: "How the channel's secret is found at send time; the value is never shown",
});

const ChannelSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  method: z.enum(METHODS),
  settings: z.record(z.string(), z.unknown()),
  recipient: z.string().openapi({ description: "Masked, as the delivery log shows it" }),
  secret: SecretSchema,
  createdAt: z.string().openapi({ format: "date-time" }),
  updatedAt: z.string().openapi({ format: "date-time" }),
}).openapi("NotificationChannel");

const channelJson = (ch: Channel): z.infer<typeof ChannelSchema> => ({
  id: ch.id,
  name: ch.name,
  method: ch.method,
  settings: ch.settings,
  recipient: ch.recipient,
  secret: ch.secret,
  createdAt: ch.createdAt.toISOString(),
  updatedAt: ch.updatedAt.toISOString(),
});

const ChannelBody = z.strictObject({
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

const TopicSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  description: z.string(),
  channelIds: z.array(z.uuid()),
  createdAt: z.string().openapi({ format: "date-time" }),
  updatedAt: z.string().openapi({ format: "date-time" }),
}).openapi("NotificationTopic");

const topicJson = (t: Topic): z.infer<typeof TopicSchema> => ({
  id: t.id,
  name: t.name,
  description: t.description,
  channelIds: t.channelIds,
  createdAt: t.createdAt.toISOString(),
  updatedAt: t.updatedAt.toISOString(),
});

const TopicBody = z.strictObject({
  name: textField().max(200).openapi({ example: "payment failed" }),
  description: textField().max(1_000).optional(),
  channelIds: z.array(textField().max(64)).max(100).default([]),
});

const PublicationSchema = z.object({
  id: z.uuid(),
  topic: z.string(),
  createdAt: z.string().openapi({ format: "date-time" }),
  deliveries: z.array(z.object({ id: z.uuid(), channel: z.string(), method: z.enum(METHODS) })),
}).openapi("NotificationPublication");

const publicationJson = (p: Publication): z.infer<typeof PublicationSchema> => ({
  id: p.id,
  topic: p.topic,
  createdAt: p.createdAt.toISOString(),
  deliveries: p.deliveries,
});

const DeliverySchema = z.object({
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

const deliveryJson = (d: Delivery): z.infer<typeof DeliverySchema> => ({
  ...d,
  createdAt: d.createdAt.toISOString(),
  updatedAt: d.updatedAt.toISOString(),
  sentAt: d.sentAt?.toISOString() ?? null,
});

const Id = z.object({ id: textField().max(64) });
const notFound = (what: string) => new AppError("not_found", `This ${what} does not exist.`);

export function notificationRoutes(ctx: AppContext) {
  const app = apiRouter();
  const n = ctx.notifications;

  // ---- channels -------------------------------------------------------------------------------

  app.openapi(
    createRoute({
      method: "get",
      path: "/notifications/channels",
      tags,
      security: bearer,
      summary: "Notification channels",
      responses: {
        200: json(z.object({ channels: z.array(ChannelSchema) }), "Channels"),
        ...refusals,
        ...errors,
      },
    }),
    async (c) => {
      manage(c);
      return c.json({ channels: (await n.channels.list()).map(channelJson) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/notifications/channels",
      tags,
      security: bearer,
      summary: "Create a channel (settings checked by its method)",
      request: { body: jsonBody(ChannelBody) },
      responses: {
        201: json(ChannelSchema, "The channel"),
        409: json(z.any(), "A channel with this name exists"),
        ...refusals,
        ...errors,
      },
    }),
    async (c) => {
      manage(c);
      return c.json(channelJson(await n.channels.create(c.req.valid("json"))), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/notifications/channels/{id}",
      tags,
      security: bearer,
      summary: "One channel",
      request: { params: Id },
      responses: { 200: json(ChannelSchema, "The channel"), ...refusals, ...errors },
    }),
    async (c) => {
      manage(c);
      const channel = await n.channels.get(c.req.valid("param").id);
      if (!channel) throw notFound("channel");
      return c.json(channelJson(channel), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/notifications/channels/{id}",
      tags,
      security: bearer,
      summary: "Replace a channel's name, method and settings (the secret is kept if omitted)",
      request: { params: Id, body: jsonBody(ChannelBody) },
      responses: {
        200: json(ChannelSchema, "The channel"),
        409: json(z.any(), "A channel with this name exists"),
        ...refusals,
        ...errors,
      },
    }),
    async (c) => {
      manage(c);
      const channel = await n.channels.update(c.req.valid("param").id, c.req.valid("json"));
      return c.json(channelJson(channel), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/notifications/channels/{id}",
      tags,
      security: bearer,
      summary: "Delete a channel (its past deliveries stay in the log)",
      request: { params: Id },
      responses: { 204: { description: "Deleted" }, ...refusals, ...errors },
    }),
    async (c) => {
      manage(c);
      if (!await n.channels.delete(c.req.valid("param").id)) throw notFound("channel");
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/notifications/channels/{id}/test",
      tags,
      security: bearer,
      summary: "Send a test message now; answers what the upstream said",
      request: { params: Id },
      responses: {
        200: json(
          z.object({
            ok: z.boolean(),
            response: z.string().optional(),
            providerMessageId: z.string().nullable().optional(),
            error: z.string().optional(),
            retryable: z.boolean().optional(),
          }),
          "The upstream's answer",
        ),
        ...refusals,
        ...errors,
      },
    }),
    async (c) => {
      manage(c);
      return c.json(await n.channels.test(ctx.jobs, c.req.valid("param").id), 200);
    },
  );

  // ---- topics ---------------------------------------------------------------------------------

  app.openapi(
    createRoute({
      method: "get",
      path: "/notifications/topics",
      tags,
      security: bearer,
      summary: "Notification topics",
      responses: {
        200: json(z.object({ topics: z.array(TopicSchema) }), "Topics"),
        ...refusals,
        ...errors,
      },
    }),
    async (c) => {
      manage(c);
      return c.json({ topics: (await n.topics.list()).map(topicJson) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/notifications/topics",
      tags,
      security: bearer,
      summary: "Create a topic with its channels",
      request: { body: jsonBody(TopicBody) },
      responses: {
        201: json(TopicSchema, "The topic"),
        409: json(z.any(), "A topic with this name exists"),
        ...refusals,
        ...errors,
      },
    }),
    async (c) => {
      manage(c);
      return c.json(topicJson(await n.topics.create(c.req.valid("json"))), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/notifications/topics/{id}",
      tags,
      security: bearer,
      summary: "One topic",
      request: { params: Id },
      responses: { 200: json(TopicSchema, "The topic"), ...refusals, ...errors },
    }),
    async (c) => {
      manage(c);
      const topic = await n.topics.get(c.req.valid("param").id);
      if (!topic) throw notFound("topic");
      return c.json(topicJson(topic), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/notifications/topics/{id}",
      tags,
      security: bearer,
      summary: "Replace a topic's name, description and channels",
      request: { params: Id, body: jsonBody(TopicBody) },
      responses: {
        200: json(TopicSchema, "The topic"),
        409: json(z.any(), "A topic with this name exists"),
        ...refusals,
        ...errors,
      },
    }),
    async (c) => {
      manage(c);
      const topic = await n.topics.update(c.req.valid("param").id, c.req.valid("json"));
      return c.json(topicJson(topic), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/notifications/topics/{id}",
      tags,
      security: bearer,
      summary: "Delete a topic (what was published to it stays in the log)",
      request: { params: Id },
      responses: { 204: { description: "Deleted" }, ...refusals, ...errors },
    }),
    async (c) => {
      manage(c);
      if (!await n.topics.delete(c.req.valid("param").id)) throw notFound("topic");
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/topics/{name}/publish",
      tags,
      security: bearer,
      summary: "Publish a message to a topic: one delivery per channel, each retried and logged",
      description: "`text` is markdown, rendered for each channel. Needs an API key with the " +
        "`notifications:publish` scope (or an admin). Send an `Idempotency-Key` header to make " +
        "a retried request answer the first publication and record nothing.",
      request: {
        params: z.object({ name: textField().max(200) }),
        headers: z.object({ "idempotency-key": textField().min(8).max(100).optional() }),
        body: jsonBody(z.strictObject({
          title: textField().max(200).nullish(),
          text: textField().max(20_000).openapi({ example: "Payment **HK12** failed" }),
        })),
      },
      responses: {
        202: json(PublicationSchema, "Recorded and queued (or, for a repeated key, the first)"),
        404: json(z.any(), "No such topic"),
        409: json(z.any(), "The topic has no channels, or the key was used for another message"),
        403: refusals[403],
        ...errors,
      },
    }),
    async (c) => {
      const auth = requireAdminOrScope(c, "notifications:publish");
      const key = c.req.valid("header")["idempotency-key"];
      const { publication, deduplicated } = await n.publish(
        ctx.jobs,
        c.req.valid("param").name,
        c.req.valid("json"),
        {
          source: auth.via === "api_key" ? "api" : "admin",
          // Keys are the caller's own: another caller's key cannot replay their answer.
          dedupeKey: key && `api:${auth.apiKeyId ?? auth.user.id}:${key}`,
        },
      );
      if (deduplicated) c.header("Idempotent-Replayed", "true");
      return c.json(publicationJson(publication), 202);
    },
  );

  // ---- the delivery log, rates, event routes ---------------------------------------------------

  app.openapi(
    createRoute({
      method: "get",
      path: "/notifications/deliveries",
      tags,
      security: bearer,
      summary: "The delivery log, newest first, searchable",
      request: {
        query: z.object({
          q: textField().max(200).optional().openapi({ description: "Words of the message" }),
          topic: textField().max(200).optional(),
          channel: textField().max(200).optional().openapi({ description: "Id or name" }),
          status: z.enum(DELIVERY_STATUSES).optional(),
          from: z.iso.datetime({ offset: true }).optional(),
          to: z.iso.datetime({ offset: true }).optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
          before: textField().max(100).optional().openapi({
            description: "`nextCursor` of the previous page",
          }),
        }),
      },
      responses: {
        200: json(
          z.object({ deliveries: z.array(DeliverySchema), nextCursor: z.string().nullable() }),
          "Deliveries",
        ),
        ...refusals,
        ...errors,
      },
    }),
    async (c) => {
      manage(c);
      const query = c.req.valid("query");
      if (query.before && !isCursor(query.before)) {
        throw new AppError("validation_failed", "before: not a cursor this API gave", {
          field: "before",
        });
      }
      const page = await n.deliveries.search({
        ...query,
        from: query.from ? new Date(query.from) : undefined,
        to: query.to ? new Date(query.to) : undefined,
        after: query.before,
      });
      return c.json({
        deliveries: page.deliveries.map(deliveryJson),
        nextCursor: page.nextCursor,
      }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/notifications/deliveries/{id}",
      tags,
      security: bearer,
      summary: "One delivery",
      request: { params: Id },
      responses: { 200: json(DeliverySchema, "The delivery"), ...refusals, ...errors },
    }),
    async (c) => {
      manage(c);
      const delivery = await n.deliveries.get(c.req.valid("param").id);
      if (!delivery) throw notFound("delivery");
      return c.json(deliveryJson(delivery), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/notifications/stats",
      tags,
      security: bearer,
      summary: "Each channel's deliveries and success rate over the last days",
      request: {
        query: z.object({ days: z.coerce.number().int().min(1).max(365).default(7) }),
      },
      responses: {
        200: json(
          z.object({
            days: z.number().int(),
            channels: z.array(z.object({
              channelId: z.uuid().nullable(),
              channel: z.string(),
              method: z.string(),
              sent: z.number().int(),
              failed: z.number().int(),
              pending: z.number().int(),
              successRate: z.number().nullable(),
            })),
          }),
          "Per channel",
        ),
        ...refusals,
        ...errors,
      },
    }),
    async (c) => {
      manage(c);
      const { days } = c.req.valid("query");
      return c.json({ days, channels: await n.deliveries.stats(days) }, 200);
    },
  );

  const EventRoute = z.object({
    event: z.enum(PRODUCT_EVENTS),
    label: z.string(),
    topicId: z.uuid().nullable(),
    topic: z.string().nullable(),
  }).openapi("NotificationEventRoute");

  app.openapi(
    createRoute({
      method: "get",
      path: "/notifications/events",
      tags,
      security: bearer,
      summary: "The product's events and the topic each is published to",
      responses: {
        200: json(z.object({ events: z.array(EventRoute) }), "Routes"),
        ...refusals,
        ...errors,
      },
    }),
    async (c) => {
      manage(c);
      return c.json({ events: await n.events.routes() }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/notifications/events/{event}",
      tags,
      security: bearer,
      summary: "Route an event to a topic (null: stop publishing it)",
      request: {
        params: z.object({ event: textField().max(100) }),
        body: jsonBody(z.strictObject({ topicId: textField().max(64).nullable() })),
      },
      responses: {
        200: json(z.object({ events: z.array(EventRoute) }), "Routes"),
        ...refusals,
        ...errors,
      },
    }),
    async (c) => {
      manage(c);
      await n.events.route(c.req.valid("param").event, c.req.valid("json").topicId);
      return c.json({ events: await n.events.routes() }, 200);
    },
  );

  return app;
}
