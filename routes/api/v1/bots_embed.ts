/**
 * Asking a bot. Answers stream as the chat's do (routes/api/v1/chat.ts): `start`, `delta`…,
 * `usage`, `done` — or `error` —, each with an `id`; `usage` and `done` carry the answer's
 * `citations` (`[{n, sourceId, title, url}]`, the sources its text cites as `[n]`). Billed to
 * the bot's owner and counted against the owner's tier.
 *
 * - `POST /bots/{id}/messages`: the owner (API key, token or session) asks their own bot.
 * - `/bots/embed/{publicKey}/…`: the website embed (`/embed.js`), for visitors without an
 *   account. Every request must come from a page of an origin the owner allowed (its `Origin`
 *   header): CORS is answered for those origins only, and any other gets a 403 and nothing
 *   else. Visitors name themselves by an anonymous id their browser keeps; each may ask a few
 *   questions a minute, and the bot as many as its owner's plan allows.
 */
import type { Context } from "hono";
import {
  type Bot,
  checkOrigin,
  countQuestion,
  FeedbackRating,
  getBotByPublicKey,
  giveFeedback,
  isVisitorsAnswer,
  limitsFor,
  requireBot,
  VisitorId,
} from "../../../lib/bots/mod.ts";
import { emitEvent } from "../../../lib/bots/webhooks.ts";
import { followGeneration, followStream } from "../../../lib/chat/mod.ts";
import { AppError } from "../../../lib/errors.ts";
import { textField } from "../../../lib/text.ts";
import { visitorHistory } from "../../../lib/bots/visitors.ts";
import { type AuthEnv, requireAuth } from "../../_auth.ts";
import type { AppContext } from "../../_context.ts";
import { apiRouter, eventStream, IdParam, json, jsonBody, openRoutes, z } from "../_openapi.ts";
import { actorOf, route } from "./bots.ts";
import { lastEventId, relay } from "./chat.ts";

const embedRoute = openRoutes(["embed"]);

/** Every path of the embed API starts so (routes/_app.tsx leaves their CORS to this module). */
export const EMBED_API_PREFIX = "/api/v1/bots/embed/";

const Question = z.strictObject({
  text: textField().trim().min(1, "write a question first").max(4000),
  conversationId: textField().max(64).optional(),
});

const VisitorQuestion = Question.extend({ visitorId: VisitorId });

/** The answers of asking: the stream, or a refusal known before it starts. */
const answers = {
  ...eventStream("`start`, `delta`…, `usage`, `done` (with `citations`) — or `error`"),
  402: json(z.any(), "The bot's owner has no tokens left"),
  403: json(z.any(), "Not an allowed website, or the bot is switched off"),
  404: json(z.any(), "No such bot"),
};

const Citation = z.object({
  n: z.number().int(),
  sourceId: z.uuid(),
  title: z.string(),
  url: z.string().nullable(),
}).openapi("BotCitation");

const VisitorMessageSchema = z.object({
  id: z.uuid(),
  role: z.enum(["user", "assistant"]),
  content: z.string(),
  status: z.string(),
  citations: z.array(Citation),
  feedback: z.enum(["up", "down"]).nullable(),
  createdAt: z.string(),
}).openapi("BotVisitorMessage");

export function botAskRoutes(ctx: AppContext) {
  const app = apiRouter();
  const sql = ctx.db.sql;
  const own = new URL(ctx.config.publicUrl).origin;

  /** The bot a public key names, and the CORS answer for the request's origin (else 403). */
  const embedded = async (c: Context<AuthEnv>, key: string) => {
    const bot = await getBotByPublicKey(sql, key);
    if (!bot) throw new AppError("not_found", "This bot does not exist.");
    const origin = checkOrigin(bot, c.req.header("origin"), own);
    c.header("Access-Control-Allow-Origin", origin);
    c.header("Access-Control-Expose-Headers", "X-Message-Id, Retry-After");
    c.header("Vary", "Origin", { append: true });
    return bot;
  };

  const ask = async (
    c: Context<AuthEnv>,
    bot: Bot,
    input: { text: string; conversationId?: string; visitorId: string | null },
    channel: "web" | "api",
  ) => {
    const asked = await ctx.bots.ask(bot, { ...input, channel });
    return relay(
      c,
      (onEntry, signal) => followGeneration(asked.started.generation, 0, signal, onEntry),
      { "X-Message-Id": asked.started.messageId },
    );
  };

  app.openapi(
    route({
      method: "post",
      path: "/bots/{id}/messages",
      summary: "Ask your bot: the answer streams back as Server-Sent Events, with citations",
      description: "Resume a lost stream with `GET /api/v1/messages/{messageId}/stream`.",
      request: { params: IdParam, body: jsonBody(Question) },
      responses: answers,
    }),
    async (c) => {
      const auth = requireAuth(c);
      const bot = await requireBot(sql, actorOf(auth), c.req.valid("param").id);
      return await ask(
        c,
        bot,
        { ...c.req.valid("json"), visitorId: null },
        auth.via === "api_key" ? "api" : "web",
      );
    },
  );

  // ---- the embed --------------------------------------------------------------------------

  // Preflight: answered for allowed origins only (no Access-Control-Allow-Origin otherwise).
  // Middleware rather than OPTIONS routes: CORS plumbing, not operations of the API.
  app.use(`${EMBED_API_PREFIX.slice("/api/v1".length)}*`, async (c, next) => {
    if (c.req.method !== "OPTIONS") return await next();
    await embedded(c, c.req.path.slice(EMBED_API_PREFIX.length).split("/")[0]);
    c.header("Access-Control-Allow-Methods", "GET, POST");
    c.header("Access-Control-Allow-Headers", "Content-Type, Last-Event-ID");
    c.header("Access-Control-Max-Age", "600");
    return c.body(null, 204);
  });

  const Key = z.object({ key: textField().max(64) });

  app.openapi(
    embedRoute({
      method: "get",
      path: "/bots/embed/{key}",
      summary: "The bot as its embed shows it, and the visitor's open conversation",
      request: { params: Key, query: z.object({ visitorId: VisitorId }) },
      responses: {
        200: json(
          z.object({
            name: z.string(),
            greeting: z.string(),
            conversationId: z.uuid().nullable(),
            messages: z.array(VisitorMessageSchema),
          }),
          "The bot and the conversation",
        ),
        403: json(z.any(), "Not an allowed website"),
        404: json(z.any(), "No such bot"),
      },
    }),
    async (c) => {
      const bot = await embedded(c, c.req.valid("param").key);
      const settings = await ctx.chat.runtime.settings();
      const history = await visitorHistory(
        sql,
        bot,
        c.req.valid("query").visitorId,
        settings.idleTtlMinutes,
      );
      return c.json({
        name: bot.name,
        greeting: bot.greeting,
        conversationId: history.conversationId,
        messages: history.messages.map((m) => ({ ...m, createdAt: m.createdAt.toISOString() })),
      }, 200);
    },
  );

  app.openapi(
    embedRoute({
      method: "post",
      path: "/bots/embed/{key}/messages",
      summary: "A visitor asks: the answer streams back as Server-Sent Events",
      request: { params: Key, body: jsonBody(VisitorQuestion) },
      responses: answers,
    }),
    async (c) => {
      const bot = await embedded(c, c.req.valid("param").key);
      const input = c.req.valid("json");
      const limits = await limitsFor(sql, bot.ownerId);
      await countQuestion(ctx.rateLimiter, bot, input.visitorId, limits.messagesPerMinute);
      return await ask(c, bot, input, "web");
    },
  );

  app.openapi(
    embedRoute({
      method: "get",
      path: "/bots/embed/{key}/messages/{messageId}/stream",
      summary: "Resume an answer's stream after `Last-Event-ID` (header or `lastEventId` query)",
      request: {
        params: Key.extend({ messageId: textField().max(64) }),
        query: z.object({ visitorId: VisitorId, lastEventId: textField().max(20).optional() }),
      },
      responses: answers,
    }),
    async (c) => {
      const bot = await embedded(c, c.req.valid("param").key);
      const { visitorId } = c.req.valid("query");
      const messageId = c.req.valid("param").messageId;
      const afterId = lastEventId(c);
      if (!(await isVisitorsAnswer(sql, bot, visitorId, messageId))) {
        throw new AppError("not_found", "This answer does not exist.");
      }
      return relay(
        c,
        (onEntry, signal) =>
          followStream(ctx.bots.answers.chat, {
            userId: bot.ownerId,
            messageId,
            afterId,
            signal,
          }, onEntry),
      );
    },
  );

  app.openapi(
    embedRoute({
      method: "post",
      path: "/bots/embed/{key}/messages/{messageId}/feedback",
      summary: "A visitor's thumbs up or down on an answer",
      request: {
        params: Key.extend({ messageId: textField().max(64) }),
        body: jsonBody(z.strictObject({ visitorId: VisitorId, rating: FeedbackRating })),
      },
      responses: {
        204: { description: "Recorded" },
        403: json(z.any(), "Not an allowed website"),
        404: json(z.any(), "No such answer"),
      },
    }),
    async (c) => {
      const bot = await embedded(c, c.req.valid("param").key);
      const { visitorId, rating } = c.req.valid("json");
      const messageId = c.req.valid("param").messageId;
      const given = await giveFeedback(sql, bot, visitorId, messageId, rating);
      if (!given) throw new AppError("not_found", "This answer does not exist.");
      await emitEvent(ctx.bots.sources, bot.id, "feedback.given", {
        conversationId: given.conversationId,
        messageId,
        visitorId,
        rating,
      });
      return c.body(null, 204);
    },
  );

  return app;
}
