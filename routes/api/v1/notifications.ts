/**
 * `/api/v1/notifications/channels` and `/topics`: notification channels and topics, for admins
 * (or an admin's API key with `notifications:manage`) (lib/notifications). The log, publishing
 * and event routes are in notification_log.ts; the schemas in notification_schemas.ts.
 */
import type { AppContext } from "../../_context.ts";
import { apiRouter, bearerRoutes, IdParam, json, jsonBody, z } from "../_openapi.ts";
import {
  ChannelBody,
  channelJson,
  ChannelSchema,
  manage,
  notFound,
  refusals,
  tags,
  TopicBody,
  topicJson,
  TopicSchema,
} from "./notification_schemas.ts";

const route = bearerRoutes(tags);

export function notificationRoutes(ctx: AppContext) {
  const app = apiRouter();
  const n = ctx.notifications;

  // ---- channels -------------------------------------------------------------------------------

  app.openapi(
    route({
      method: "get",
      path: "/notifications/channels",
      summary: "Notification channels",
      responses: {
        200: json(z.object({ channels: z.array(ChannelSchema) }), "Channels"),
        ...refusals,
      },
    }),
    async (c) => {
      manage(c);
      return c.json({ channels: (await n.channels.list()).map(channelJson) }, 200);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/notifications/channels",
      summary: "Create a channel (settings checked by its method)",
      request: { body: jsonBody(ChannelBody) },
      responses: {
        201: json(ChannelSchema, "The channel"),
        409: json(z.any(), "A channel with this name exists"),
        ...refusals,
      },
    }),
    async (c) => {
      manage(c);
      return c.json(channelJson(await n.channels.create(c.req.valid("json"))), 201);
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/notifications/channels/{id}",
      summary: "One channel",
      request: { params: IdParam },
      responses: { 200: json(ChannelSchema, "The channel"), ...refusals },
    }),
    async (c) => {
      manage(c);
      const channel = await n.channels.get(c.req.valid("param").id);
      if (!channel) throw notFound("channel");
      return c.json(channelJson(channel), 200);
    },
  );

  app.openapi(
    route({
      method: "put",
      path: "/notifications/channels/{id}",
      summary: "Replace a channel's name, method and settings (the secret is kept if omitted)",
      request: { params: IdParam, body: jsonBody(ChannelBody) },
      responses: {
        200: json(ChannelSchema, "The channel"),
        409: json(z.any(), "A channel with this name exists"),
        ...refusals,
      },
    }),
    async (c) => {
      manage(c);
      const channel = await n.channels.update(c.req.valid("param").id, c.req.valid("json"));
      return c.json(channelJson(channel), 200);
    },
  );

  app.openapi(
    route({
      method: "delete",
      path: "/notifications/channels/{id}",
      summary: "Delete a channel (its past deliveries stay in the log)",
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...refusals },
    }),
    async (c) => {
      manage(c);
      if (!await n.channels.delete(c.req.valid("param").id)) throw notFound("channel");
      return c.body(null, 204);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/notifications/channels/{id}/test",
      summary: "Send a test message now; answers what the upstream said",
      request: { params: IdParam },
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
      },
    }),
    async (c) => {
      manage(c);
      return c.json(await n.channels.test(ctx.jobs, c.req.valid("param").id), 200);
    },
  );

  // ---- topics ---------------------------------------------------------------------------------

  app.openapi(
    route({
      method: "get",
      path: "/notifications/topics",
      summary: "Notification topics",
      responses: {
        200: json(z.object({ topics: z.array(TopicSchema) }), "Topics"),
        ...refusals,
      },
    }),
    async (c) => {
      manage(c);
      return c.json({ topics: (await n.topics.list()).map(topicJson) }, 200);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/notifications/topics",
      summary: "Create a topic with its channels",
      request: { body: jsonBody(TopicBody) },
      responses: {
        201: json(TopicSchema, "The topic"),
        409: json(z.any(), "A topic with this name exists"),
        ...refusals,
      },
    }),
    async (c) => {
      manage(c);
      return c.json(topicJson(await n.topics.create(c.req.valid("json"))), 201);
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/notifications/topics/{id}",
      summary: "One topic",
      request: { params: IdParam },
      responses: { 200: json(TopicSchema, "The topic"), ...refusals },
    }),
    async (c) => {
      manage(c);
      const topic = await n.topics.get(c.req.valid("param").id);
      if (!topic) throw notFound("topic");
      return c.json(topicJson(topic), 200);
    },
  );

  app.openapi(
    route({
      method: "put",
      path: "/notifications/topics/{id}",
      summary: "Replace a topic's name, description and channels",
      request: { params: IdParam, body: jsonBody(TopicBody) },
      responses: {
        200: json(TopicSchema, "The topic"),
        409: json(z.any(), "A topic with this name exists"),
        ...refusals,
      },
    }),
    async (c) => {
      manage(c);
      const topic = await n.topics.update(c.req.valid("param").id, c.req.valid("json"));
      return c.json(topicJson(topic), 200);
    },
  );

  app.openapi(
    route({
      method: "delete",
      path: "/notifications/topics/{id}",
      summary: "Delete a topic (what was published to it stays in the log)",
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...refusals },
    }),
    async (c) => {
      manage(c);
      if (!await n.topics.delete(c.req.valid("param").id)) throw notFound("topic");
      return c.body(null, 204);
    },
  );

  return app;
}
