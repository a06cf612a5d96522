/**
 * `POST /api/v1/topics/{name}/publish` for callers with `notifications:publish`, and the delivery
 * log, per-channel rates and product event routes for admins (or `notifications:manage`)
 * (lib/notifications).
 */
import { AppError } from "../../../lib/errors.ts";
import { isCursor } from "../../../lib/notifications/log.ts";
import { DELIVERY_STATUSES, PRODUCT_EVENTS } from "../../../lib/notifications/model.ts";
import { textField } from "../../../lib/text.ts";
import { requireAdminOrScope } from "../../_auth.ts";
import type { AppContext } from "../../_context.ts";
import { apiRouter, json, jsonBody, z } from "../_openapi.ts";
import { cursorPage, cursorParam } from "../_reads.ts";
import {
  deliveryJson,
  DeliverySchema,
  manage,
  managedReadRoute,
  publicationJson,
  PublicationSchema,
  refusals,
  route,
} from "./notification_schemas.ts";

export function notificationLogRoutes(ctx: AppContext) {
  const app = apiRouter();
  const n = ctx.notifications;

  app.openapi(
    route({
      method: "post",
      path: "/topics/{name}/publish",
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
    route({
      method: "get",
      path: "/notifications/deliveries",
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
          before: cursorParam,
        }),
      },
      responses: {
        200: json(cursorPage({ deliveries: z.array(DeliverySchema) }), "Deliveries"),
        ...refusals,
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

  managedReadRoute(app, "/notifications/deliveries", {
    one: "delivery",
    schema: DeliverySchema,
    toJson: deliveryJson,
    get: (id) => n.deliveries.get(id),
  });

  app.openapi(
    route({
      method: "get",
      path: "/notifications/stats",
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
  const eventRoutesAnswer = {
    200: json(z.object({ events: z.array(EventRoute) }), "Routes"),
    ...refusals,
  };

  app.openapi(
    route({
      method: "get",
      path: "/notifications/events",
      summary: "The product's events and the topic each is published to",
      responses: eventRoutesAnswer,
    }),
    async (c) => {
      manage(c);
      return c.json({ events: await n.events.routes() }, 200);
    },
  );

  app.openapi(
    route({
      method: "put",
      path: "/notifications/events/{event}",
      summary: "Route an event to a topic (null: stop publishing it)",
      request: {
        params: z.object({ event: textField().max(100) }),
        body: jsonBody(z.strictObject({ topicId: textField().max(64).nullable() })),
      },
      responses: eventRoutesAnswer,
    }),
    async (c) => {
      manage(c);
      await n.events.route(c.req.valid("param").event, c.req.valid("json").topicId);
      return c.json({ events: await n.events.routes() }, 200);
    },
  );

  return app;
}
