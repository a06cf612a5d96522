/**
 * `/api/v1/notifications/channels` and `/topics`: notification channels and topics, for admins
 * (or an admin's API key with `notifications:manage`) (lib/notifications). The log, publishing
 * and event routes are in notification_log.ts; the schemas in notification_schemas.ts.
 */
import type { AppContext } from "../../_context.ts";
import { apiRouter, IdParam, json, z } from "../_openapi.ts";
import {
  ChannelBody,
  channelJson,
  ChannelSchema,
  manage,
  refusals,
  resourceRoutes,
  route,
  TopicBody,
  topicJson,
  TopicSchema,
} from "./notification_schemas.ts";

export function notificationRoutes(ctx: AppContext) {
  const app = apiRouter();
  const n = ctx.notifications;

  resourceRoutes(app, {
    path: "/notifications/channels",
    one: "channel",
    many: "channels",
    schema: ChannelSchema,
    body: ChannelBody,
    toJson: channelJson,
    store: n.channels,
    summaries: {
      list: "Notification channels",
      create: "Create a channel (settings checked by its method)",
      replace: "Replace a channel's name, method and settings (the secret is kept if omitted)",
      delete: "Delete a channel (its past deliveries stay in the log)",
    },
  });

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

  resourceRoutes(app, {
    path: "/notifications/topics",
    one: "topic",
    many: "topics",
    schema: TopicSchema,
    body: TopicBody,
    toJson: topicJson,
    store: n.topics,
    summaries: {
      list: "Notification topics",
      create: "Create a topic with its channels",
      replace: "Replace a topic's name, description and channels",
      delete: "Delete a topic (what was published to it stays in the log)",
    },
  });

  return app;
}
