/**
 * `/api/v1/conversations`, `/api/v1/chats`, `/api/v1/essays`, `/api/v1/messages/{id}/…`: the
 * AI chat.
 *
 * Asking (`POST /conversations/{id}/messages`, `POST /chats`, `POST /essays`) answers `text/event-stream`:
 * `start` (the ids, among them the answer's `messageId`), `delta` × n (`{"text"}`), then `usage`
 * (`{"tokensIn","tokensOut","cost","balance"}`) and `done`, or `error` (`{"code","message"}`).
 * Every event has an `id`. A client that loses the stream reconnects with
 * `GET /messages/{messageId}/stream` and `Last-Event-ID`: the rest comes from the buffer, without
 * a second model call. The answer keeps generating for a grace period while nobody reads; then it
 * is stopped and billed for what was generated. Problems known before streaming (no tokens: 402,
 * daily cap: 429, AI not configured: 503) are ordinary JSON errors.
 */
import { textField } from "../../../lib/text.ts";
import type { Context } from "hono";
import { AppError } from "../../../lib/errors.ts";
import { SSE_HEADERS, sseStream } from "../../_sse.ts";
import {
  closeConversation,
  type Conversation,
  createConversation,
  followGeneration,
  followStream,
  getConversation,
  getMessage,
  listConversations,
  listMessages,
  MAX_MESSAGE_CHARS,
  type Message,
  type Mode,
  MODES,
  resetConversation,
  startStream,
  stopAnswer,
  type StreamEntry,
} from "../../../lib/chat/mod.ts";
import { CHANNELS } from "../../../lib/channels.ts";
import { type AuthEnv, requireAuth } from "../../_auth.ts";
import type { AppContext } from "../../_context.ts";
import { apiRouter, bearerRoutes, eventStream, IdParam, json, jsonBody, z } from "../_openapi.ts";
import { jsonOf } from "../_json.ts";
import { newestFirstList, ownItemAction } from "../_reads.ts";

const route = bearerRoutes(["chat"]);

const ConversationSchema = z.object({
  id: z.uuid(),
  mode: z.enum(MODES),
  channel: z.enum(CHANNELS),
  title: z.string().nullable(),
  open: z.boolean().openapi({ description: "false once reset (a new message starts anew)" }),
  createdAt: z.string(),
  lastActivityAt: z.string(),
}).openapi("Conversation");

const MessageSchema = z.object({
  id: z.uuid(),
  role: z.enum(["user", "assistant"]),
  content: z.string(),
  status: z.enum(["streaming", "complete", "aborted", "error"]),
  model: z.string().nullable(),
  tokensIn: z.number().int().nullable(),
  tokensOut: z.number().int().nullable(),
  cost: z.number().int().nullable().openapi({ description: "wallet tokens charged" }),
  latencyMs: z.number().int().nullable(),
  ttftMs: z.number().int().nullable(),
  errorCode: z.string().nullable(),
  createdAt: z.string(),
}).openapi("ChatMessage");

const conversationJson = (c: Conversation): z.infer<typeof ConversationSchema> =>
  jsonOf(ConversationSchema, { ...c, open: c.closedAt === null });

const messageJson = (m: Message): z.infer<typeof MessageSchema> => jsonOf(MessageSchema, m);

const AskBody = z.strictObject({
  text: textField().trim().min(1, "write a message first").max(MAX_MESSAGE_CHARS),
});

const answerStream = eventStream(
  "`start`, `delta`…, `usage`, `done` — or `error` — each with an `id`",
);

/** The answers of asking: the stream, or a refusal known before it starts. */
const answers = {
  ...answerStream,
  402: json(z.any(), "Not enough tokens; `details.topUpUrl` says where to buy more"),
  404: json(z.any(), "No such conversation"),
  503: json(z.any(), "The AI is not configured"),
};

/** The `id` of the last event a reconnecting client saw (header, or `lastEventId` query). */
export function lastEventId(c: Context): number {
  const raw = c.req.header("last-event-id") ?? c.req.query("lastEventId") ?? "0";
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new AppError("validation_failed", "Last-Event-ID: expected the id of an event.");
  }
  return n;
}

/**
 * Relays a generation's events as SSE, with a heartbeat comment while nothing else is sent.
 * Leaving (the client disconnects) only detaches this reader: the answer goes on.
 */
export function relay(
  c: Context<AuthEnv>,
  follow: Follow,
  headers: Record<string, string> = {},
) {
  const body = sseStream(follow, {
    onError: (error) => ({
      id: 0,
      event: "error",
      data: {
        code: error instanceof AppError ? error.code : "unavailable",
        message: error instanceof AppError ? error.message : "The answer could not be followed.",
      },
    }),
  });
  return c.body(body, 200, { ...headers, ...SSE_HEADERS });
}

/** Hands an answer's entries to `onEntry` until the answer ends or `signal` (the reader left). */
type Follow = (onEntry: (e: StreamEntry) => void, signal: AbortSignal) => Promise<void>;

export function chatRoutes(ctx: AppContext) {
  const app = apiRouter();
  const services = ctx.chat;
  const sql = ctx.db.sql;
  const channelOf = (c: Context<AuthEnv>) => requireAuth(c).via === "api_key" ? "api" : "web";

  const ask = async (
    c: Context<AuthEnv>,
    input: { mode: Mode; conversationId?: string; fresh?: boolean; text: string },
  ) => {
    const auth = requireAuth(c);
    const started = await startStream(services, {
      userId: auth.user.id,
      channel: channelOf(c),
      ...input,
    });
    const streamUrl = `/api/v1/messages/${started.messageId}/stream`;
    return relay(
      c,
      (onEntry, signal) => followGeneration(started.generation, 0, signal, onEntry),
      { "X-Message-Id": started.messageId, "Content-Location": streamUrl },
    );
  };

  app.openapi(
    route({
      method: "post",
      path: "/conversations",
      summary: "Start a conversation (chat, with memory; or essay, one question)",
      request: {
        body: jsonBody(z.strictObject({
          mode: z.enum(MODES).default("chat"),
          title: textField().trim().max(120).optional(),
        })),
      },
      responses: { 201: json(ConversationSchema, "The conversation") },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const conversation = await createConversation(sql, {
        userId: requireAuth(c).user.id,
        mode: body.mode,
        channel: channelOf(c),
        title: body.title ?? null,
      });
      return c.json(conversationJson(conversation), 201);
    },
  );

  newestFirstList(app, route, {
    path: "/conversations",
    summary: "The signed-in user's conversations, most recently active first",
    key: "conversations",
    schema: ConversationSchema,
    defaultLimit: 30,
    before: "`lastActivityAt` of the last conversation seen",
    list: (userId, page) => listConversations(sql, userId, page),
    toJson: conversationJson,
  });

  app.openapi(
    route({
      method: "post",
      path: "/conversations/reset",
      summary: "Close the open conversations of this channel: the next message starts afresh",
      responses: { 204: { description: "Closed" } },
    }),
    async (c) => {
      await resetConversation(services, requireAuth(c).user.id, channelOf(c));
      return c.body(null, 204);
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/conversations/{id}",
      summary: "One conversation with its messages",
      request: { params: IdParam },
      responses: {
        200: json(
          ConversationSchema.extend({ messages: z.array(MessageSchema) }),
          "The conversation",
        ),
        404: json(z.any(), "No such conversation"),
      },
    }),
    async (c) => {
      const conversation = await getConversation(
        sql,
        requireAuth(c).user.id,
        c.req.valid("param").id,
      );
      if (!conversation) throw new AppError("not_found", "This conversation does not exist.");
      const messages = await listMessages(sql, conversation.id);
      return c.json(
        { ...conversationJson(conversation), messages: messages.map(messageJson) },
        200,
      );
    },
  );

  ownItemAction(app, route, {
    method: "post",
    path: "/conversations/{id}/close",
    summary: "Close one conversation (a new message to it starts a new one)",
    one: "conversation",
    done: "Closed",
    missing: "No such",
    act: (userId, id) => closeConversation(sql, userId, id),
  });

  app.openapi(
    route({
      method: "post",
      path: "/conversations/{id}/messages",
      summary: "Ask: the answer streams back as Server-Sent Events",
      description:
        "A conversation that has idled out or been closed continues in a new one (its id is in " +
        "the `start` event). The answer's stream URL is in `Content-Location`.",
      request: {
        params: IdParam,
        body: jsonBody(AskBody),
      },
      responses: answers,
    }),
    (c) =>
      ask(c, {
        mode: "chat",
        conversationId: c.req.valid("param").id,
        text: c.req.valid("json").text,
      }),
  );

  app.openapi(
    route({
      method: "post",
      path: "/essays",
      summary: "Ask for an essay (no memory): the answer streams back as Server-Sent Events",
      request: { body: jsonBody(AskBody) },
      responses: answers,
    }),
    (c) => ask(c, { mode: "essay", text: c.req.valid("json").text }),
  );

  app.openapi(
    route({
      method: "post",
      path: "/chats",
      summary: "Start a new chat with its first message: the answer streams back as SSE",
      description: "The new conversation's id is in the `start` event. A refused message " +
        "(402, 429, 503) starts no conversation.",
      request: { body: jsonBody(AskBody) },
      responses: answers,
    }),
    (c) => ask(c, { mode: "chat", fresh: true, text: c.req.valid("json").text }),
  );

  app.openapi(
    route({
      method: "get",
      path: "/messages/{id}/stream",
      summary: "Resume an answer's stream after `Last-Event-ID` (header or `lastEventId` query)",
      request: {
        params: IdParam,
        headers: z.object({ "last-event-id": textField().max(20).optional() }),
        query: z.object({ lastEventId: textField().max(20).optional() }),
      },
      responses: { ...answerStream, 404: json(z.any(), "No such answer") },
    }),
    async (c) => {
      const auth = requireAuth(c);
      const messageId = c.req.valid("param").id;
      const afterId = lastEventId(c);
      // Checked before the stream opens, so an unknown id is a plain 404.
      const message = await getMessage(sql, auth.user.id, messageId);
      if (!message || message.role !== "assistant") {
        throw new AppError("not_found", "This answer does not exist.");
      }
      return relay(
        c,
        (onEntry, signal) =>
          followStream(services, { userId: auth.user.id, messageId, afterId, signal }, onEntry),
      );
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/messages/{id}/stop",
      summary: "Stop an answer being generated (billed for what was generated)",
      request: { params: IdParam },
      responses: {
        200: json(z.object({ status: z.enum(["stopped", "finished"]) }), "Stopped, or over"),
        404: json(z.any(), "No such answer"),
      },
    }),
    async (c) => {
      const status = await stopAnswer(services, requireAuth(c).user.id, c.req.valid("param").id);
      return c.json({ status }, 200);
    },
  );

  return app;
}
