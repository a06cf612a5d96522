/**
 * `/api/v1/bots/{id}/analytics` and `/api/v1/bots/{id}/webhooks`: what a bot's owner learns
 * from it (figures per day, top questions, questions its knowledge did not cover) and the
 * endpoints it notifies (`conversation.started`, `message.created`, `feedback.given`, signed
 * `X-Hurukuro-Signature: t=<unix>,v1=<hex>`), with their delivery log.
 */
import { botAnalytics } from "../../../lib/bots/analytics.ts";
import {
  createWebhook,
  deleteWebhook,
  DELIVERY_STATUSES,
  listDeliveries,
  listWebhooks,
  requireBot,
  WEBHOOK_EVENTS,
  WebhookInput,
} from "../../../lib/bots/mod.ts";
import { AppError } from "../../../lib/errors.ts";
import { textField } from "../../../lib/text.ts";
import { requireAuth } from "../../_auth.ts";
import type { AppContext } from "../../_context.ts";
import { apiRouter, IdParam, json, jsonBody, z } from "../_openapi.ts";
import { actorOf, notFound, route } from "./bots.ts";

const Day = z.object({
  day: z.string(),
  conversations: z.number().int(),
  messages: z.number().int(),
  tokensIn: z.number().int(),
  tokensOut: z.number().int(),
  cost: z.number().int().openapi({ description: "wallet tokens" }),
  weakAnswers: z.number().int().openapi({ description: "questions the knowledge did not cover" }),
  thumbsUp: z.number().int(),
  thumbsDown: z.number().int(),
});

export const AnalyticsSchema = z.object({
  from: z.string(),
  to: z.string(),
  days: z.array(Day),
  totals: Day.omit({ day: true }),
  topQuestions: z.array(z.object({ question: z.string(), count: z.number().int() })),
  weakQuestions: z.array(
    z.object({ question: z.string(), count: z.number().int(), lastAskedAt: z.string() }),
  ),
}).openapi("BotAnalytics");

const WebhookSchema = z.object({
  id: z.uuid(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENTS)),
  active: z.boolean(),
  createdAt: z.string(),
}).openapi("BotWebhook");

const DeliverySchema = z.object({
  id: z.uuid(),
  webhookId: z.uuid(),
  event: z.enum(WEBHOOK_EVENTS),
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.number().int(),
  responseStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  createdAt: z.string(),
  deliveredAt: z.string().nullable(),
}).openapi("BotWebhookDelivery");

export const ANALYTICS_RANGES = [7, 30, 90] as const;

export function botInsightRoutes(ctx: AppContext) {
  const app = apiRouter();
  const sql = ctx.db.sql;

  app.openapi(
    route({
      method: "get",
      path: "/bots/{id}/analytics",
      summary: "The bot's figures per day, its top questions and those it could not answer",
      request: {
        params: IdParam,
        query: z.object({
          range: z.coerce.number().int().refine(
            (n) => (ANALYTICS_RANGES as readonly number[]).includes(n),
            `one of ${ANALYTICS_RANGES.join(", ")}`,
          ).default(30),
        }),
      },
      responses: { 200: json(AnalyticsSchema, "Figures"), 404: notFound },
    }),
    async (c) => {
      const bot = await requireBot(sql, actorOf(requireAuth(c)), c.req.valid("param").id);
      return c.json(
        await botAnalytics(sql, bot.id, ctx.config.tzMetrics, c.req.valid("query").range),
        200,
      );
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/bots/{id}/webhooks",
      summary: "Register a webhook (its signing secret is in this answer only)",
      request: { params: IdParam, body: jsonBody(WebhookInput) },
      responses: {
        201: json(WebhookSchema.extend({ secret: z.string() }), "The webhook and its secret"),
        404: notFound,
        422: json(z.any(), "The URL may not receive webhooks; `details.reason` says why"),
      },
    }),
    async (c) => {
      const bot = await requireBot(sql, actorOf(requireAuth(c)), c.req.valid("param").id);
      const hook = await createWebhook(ctx.bots.webhooks, bot.id, c.req.valid("json"));
      return c.json({
        id: hook.id,
        url: hook.url,
        events: hook.events,
        active: hook.active,
        createdAt: hook.createdAt.toISOString(),
        secret: hook.secret,
      }, 201);
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/bots/{id}/webhooks",
      summary: "The bot's webhooks and their latest deliveries",
      request: { params: IdParam },
      responses: {
        200: json(
          z.object({ webhooks: z.array(WebhookSchema), deliveries: z.array(DeliverySchema) }),
          "Webhooks and deliveries",
        ),
        404: notFound,
      },
    }),
    async (c) => {
      const bot = await requireBot(sql, actorOf(requireAuth(c)), c.req.valid("param").id);
      const [webhooks, deliveries] = await Promise.all([
        listWebhooks(ctx.bots.webhooks, bot.id),
        listDeliveries(ctx.bots.webhooks, bot.id),
      ]);
      return c.json({
        webhooks: webhooks.map((w) => ({
          id: w.id,
          url: w.url,
          events: w.events,
          active: w.active,
          createdAt: w.createdAt.toISOString(),
        })),
        deliveries: deliveries.map((d) => ({
          ...d,
          createdAt: d.createdAt.toISOString(),
          deliveredAt: d.deliveredAt?.toISOString() ?? null,
        })),
      }, 200);
    },
  );

  app.openapi(
    route({
      method: "delete",
      path: "/bots/{id}/webhooks/{webhookId}",
      summary: "Remove a webhook",
      request: { params: IdParam.extend({ webhookId: textField().max(64) }) },
      responses: { 204: { description: "Removed" }, 404: notFound },
    }),
    async (c) => {
      const { id, webhookId } = c.req.valid("param");
      const bot = await requireBot(sql, actorOf(requireAuth(c)), id);
      if (!(await deleteWebhook(ctx.bots.webhooks, bot.id, webhookId))) {
        throw new AppError("not_found", "This webhook does not exist.");
      }
      return c.body(null, 204);
    },
  );

  return app;
}
