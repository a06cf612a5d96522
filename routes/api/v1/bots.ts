/**
 * `/api/v1/bots`: a user's bots and their training sources. Only a bot's owner (or an admin)
 * sees or changes it; anyone else gets the 404 a bot that does not exist gets.
 *
 * Sources are learnt in the background: each answers with its state (`queued` — with how many
 * wait ahead —, `processing 12/40 chunks`, `ready`, `failed: <reason>`), also pushed live to
 * the owner's `GET /api/v1/events` as `bot.source.updated`.
 */
import type { Context } from "hono";
import {
  ACCEPTED_DESCRIPTION,
  type Actor,
  addFileSource,
  addTextSource,
  addUrlSource,
  type Bot,
  BotInput,
  BotPatch,
  createBot,
  deleteBot,
  deleteSource,
  getSource,
  listBots,
  listSources,
  requireBot,
  retrainSource,
  rotatePublicKey,
  type Source,
  SOURCE_KINDS,
  SOURCE_STATUSES,
  type SourceDeps,
  type SourceView,
  TextSourceInput,
  updateBot,
  UrlSourceInput,
  view,
} from "../../../lib/bots/mod.ts";
import { AppError } from "../../../lib/errors.ts";
import { isStorableText, textField } from "../../../lib/text.ts";
import { type Auth, type AuthEnv, requireAuth } from "../../_auth.ts";
import type { AppContext } from "../../_context.ts";
import { apiRouter, bearerRoutes, IdParam, json, jsonBody, z } from "../_openapi.ts";
import { jsonOf } from "../_json.ts";

/** The declarer of the bots' routes (here, in bots_insights.ts and bots_embed.ts). */
export const route = bearerRoutes(["bots"]);

export const BotSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  greeting: z.string(),
  instructions: z.string().openapi({ description: "The bot's system prompt" }),
  model: z.string().nullable().openapi({ description: "null: the service's default model" }),
  temperature: z.number(),
  knowledgeOnly: z.boolean().openapi({
    description: "true: answers only from its knowledge, and says it does not know otherwise",
  }),
  allowedOrigins: z.array(z.string()).openapi({ example: ["https://shop.example"] }),
  active: z.boolean(),
  publicKey: z.string().openapi({ description: "Names the bot in its embed snippet" }),
  createdAt: z.string(),
  updatedAt: z.string(),
}).openapi("Bot");

export const botJson = (b: Bot): z.infer<typeof BotSchema> => jsonOf(BotSchema, b);

const SourceSchema = z.object({
  id: z.uuid(),
  kind: z.enum(SOURCE_KINDS),
  title: z.string(),
  url: z.string().nullable(),
  mediaType: z.string().nullable(),
  byteSize: z.number().int().nullable(),
  parentId: z.uuid().nullable().openapi({ description: "The sitemap a page came from" }),
  status: z.enum(SOURCE_STATUSES),
  description: z.string().openapi({
    example: "processing 12/40 chunks",
    description: "The state in words: why it waits, how far it got, or why it failed",
  }),
  error: z.string().nullable(),
  ahead: z.number().int().openapi({ description: "Sources waiting ahead (queued only)" }),
  chunksDone: z.number().int(),
  chunksTotal: z.number().int().nullable(),
  version: z.number().int(),
  readyVersion: z.number().int().nullable(),
  embedder: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
}).openapi("BotSource");

const sourceJson = (s: SourceView): z.infer<typeof SourceSchema> => jsonOf(SourceSchema, s);

export const actorOf = (auth: Auth) => ({ id: auth.user.id, role: auth.user.role });
const SourceId = z.object({ id: textField().max(64), sourceId: textField().max(64) });
export const notFound = json(z.any(), "No such bot (or not yours)");
const deleted = { 204: { description: "Deleted" }, 404: notFound };

const UploadSchema = z.object({
  file: z.any().openapi({ type: "string", format: "binary" }),
  title: textField().trim().max(200).optional(),
});

export function botRoutes(ctx: AppContext) {
  const app = apiRouter();
  const sql = ctx.db.sql;

  app.openapi(
    route({
      method: "post",
      path: "/bots",
      summary: "Create a bot",
      request: { body: jsonBody(BotInput) },
      responses: {
        201: json(BotSchema, "The bot"),
        403: json(z.any(), "Your plan's number of bots is reached"),
      },
    }),
    async (c) => {
      const bot = await createBot(sql, requireAuth(c).user.id, c.req.valid("json"));
      return c.json(botJson(bot), 201);
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/bots",
      summary: "The signed-in user's bots",
      responses: { 200: json(z.object({ bots: z.array(BotSchema) }), "Bots") },
    }),
    async (c) => {
      const list = await listBots(sql, requireAuth(c).user.id);
      return c.json({ bots: list.map(botJson) }, 200);
    },
  );

  /** A route on one bot, by its id, that answers with the bot once `act` is done. */
  const botRoute = (
    method: "get" | "post",
    path: string,
    summary: string,
    act: (actor: ReturnType<typeof actorOf>, id: string) => Promise<Bot>,
  ) =>
    app.openapi(
      route({
        method,
        path,
        summary,
        request: { params: IdParam },
        responses: { 200: json(BotSchema, "The bot"), 404: notFound },
      }),
      async (c) => {
        const bot = await act(actorOf(requireAuth(c)), c.req.valid("param").id);
        return c.json(botJson(bot), 200);
      },
    );

  botRoute("get", "/bots/{id}", "One bot", (actor, id) => requireBot(sql, actor, id));

  app.openapi(
    route({
      method: "patch",
      path: "/bots/{id}",
      summary: "Change a bot's settings",
      request: { params: IdParam, body: jsonBody(BotPatch) },
      responses: { 200: json(BotSchema, "The bot"), 404: notFound },
    }),
    async (c) => {
      const bot = await updateBot(
        sql,
        actorOf(requireAuth(c)),
        c.req.valid("param").id,
        c.req.valid("json"),
      );
      return c.json(botJson(bot), 200);
    },
  );

  botRoute(
    "post",
    "/bots/{id}/rotate-key",
    "Give the bot a new public key (the old embed snippet stops working)",
    (actor, id) => rotatePublicKey(sql, actor, id),
  );

  app.openapi(
    route({
      method: "delete",
      path: "/bots/{id}",
      summary: "Delete a bot with its sources, conversations and figures",
      request: { params: IdParam },
      responses: deleted,
    }),
    async (c) => {
      const files = await deleteBot(sql, actorOf(requireAuth(c)), c.req.valid("param").id);
      for (const key of files) await ctx.bots.knowledge.files.delete(key).catch(() => {});
      return c.body(null, 204);
    },
  );

  // ---- sources ------------------------------------------------------------------------------

  app.openapi(
    route({
      method: "get",
      path: "/bots/{id}/sources",
      summary: "The bot's training sources, each with its state",
      request: { params: IdParam },
      responses: {
        200: json(z.object({ sources: z.array(SourceSchema) }), "Sources"),
        404: notFound,
      },
    }),
    async (c) => {
      const bot = await requireBot(sql, actorOf(requireAuth(c)), c.req.valid("param").id);
      const list = await listSources(ctx.bots.sources, bot);
      return c.json({ sources: list.map(sourceJson) }, 200);
    },
  );

  /** Teaches the bot of the path `input` with `add`, as its owner; answers the source, queued. */
  const addSource = async <I>(
    c: Context<AuthEnv>,
    botId: string,
    input: I,
    add: (deps: SourceDeps, actor: Actor, botId: string, input: I) => Promise<Source>,
  ) => {
    const source = await add(ctx.bots.sources, actorOf(requireAuth(c)), botId, input);
    return c.json(sourceJson(view(source, 0)), 201);
  };
  const sourceCreated = {
    201: json(SourceSchema, "The source, queued for learning"),
    403: json(z.any(), "Your plan's number of sources is reached"),
    404: notFound,
  };

  app.openapi(
    route({
      method: "post",
      path: "/bots/{id}/sources/text",
      summary: "Teach the bot a text",
      request: { params: IdParam, body: jsonBody(TextSourceInput) },
      responses: { ...sourceCreated },
    }),
    (c) => addSource(c, c.req.valid("param").id, c.req.valid("json"), addTextSource),
  );

  app.openapi(
    route({
      method: "post",
      path: "/bots/{id}/sources/url",
      summary: "Teach the bot a web page, or every page of a sitemap",
      description: "The URL must be public: loopback, private, link-local and metadata " +
        "addresses are refused (422), also after redirects. robots.txt is honoured.",
      request: { params: IdParam, body: jsonBody(UrlSourceInput) },
      responses: {
        ...sourceCreated,
        422: json(z.any(), "The URL may not be fetched; `details.reason` says why"),
      },
    }),
    (c) => addSource(c, c.req.valid("param").id, c.req.valid("json"), addUrlSource),
  );

  app.openapi(
    route({
      method: "post",
      path: "/bots/{id}/sources/file",
      summary: "Teach the bot a file (multipart field `file`)",
      description: `Accepted, judged by content: ${ACCEPTED_DESCRIPTION}. ` +
        "The largest file depends on the plan (413 names it).",
      request: {
        params: IdParam,
        body: { required: true, content: { "multipart/form-data": { schema: UploadSchema } } },
      },
      responses: {
        ...sourceCreated,
        413: json(z.any(), "The file is larger than the plan allows; `details.limitBytes`"),
        415: json(z.any(), "Not a type a bot can learn from; `details.accepted` lists them"),
      },
    }),
    async (c) => {
      const form = c.req.valid("form");
      const file = form.file;
      if (!(file instanceof File)) {
        throw new AppError("validation_failed", "file: attach the file in the field `file`.", {
          field: "file",
        });
      }
      const name = form.title || (isStorableText(file.name) ? file.name : "");
      const bytes = new Uint8Array(await file.arrayBuffer());
      return await addSource(c, c.req.valid("param").id, { name, bytes }, addFileSource);
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/bots/{id}/sources/{sourceId}",
      summary: "One source and its state",
      request: { params: SourceId },
      responses: { 200: json(SourceSchema, "The source"), 404: notFound },
    }),
    async (c) => {
      const { id, sourceId } = c.req.valid("param");
      const { bot, source } = await getSource(
        ctx.bots.sources,
        actorOf(requireAuth(c)),
        id,
        sourceId,
      );
      const found = (await listSources(ctx.bots.sources, bot)).find((s) => s.id === source.id)!;
      return c.json(sourceJson(found), 200);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/bots/{id}/sources/{sourceId}/retrain",
      summary: "Learn the source again (retry a failed one; re-read a changed page)",
      description: "The current chunks keep answering until the new ones are complete; then " +
        "they are replaced in one transaction.",
      request: { params: SourceId },
      responses: { 200: json(SourceSchema, "The source, queued"), 404: notFound },
    }),
    async (c) => {
      const { id, sourceId } = c.req.valid("param");
      const source = await retrainSource(ctx.bots.sources, actorOf(requireAuth(c)), id, sourceId);
      return c.json(sourceJson(view(source, 0)), 200);
    },
  );

  app.openapi(
    route({
      method: "delete",
      path: "/bots/{id}/sources/{sourceId}",
      summary: "Forget a source (its chunks stop answering at once)",
      request: { params: SourceId },
      responses: deleted,
    }),
    async (c) => {
      const { id, sourceId } = c.req.valid("param");
      await deleteSource(ctx.bots.sources, actorOf(requireAuth(c)), id, sourceId);
      return c.body(null, 204);
    },
  );

  return app;
}
