/**
 * `/bots`, `/bots/{id}`: bot owners' pages — their bots, and one bot's settings, training
 * sources (live state: islands/BotSources.tsx), embed snippet with a working preview,
 * analytics (islands/BotAnalytics.tsx) and webhooks. Thin: forms are read with the shared text
 * rule (routes/_form.ts), lib/bots does the work, refusals are shown above the form with the
 * API's status (413, 415, 422 …). Others' bots are 404, as in the API.
 */
import { type Context, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import {
  ACCEPTED_DESCRIPTION,
  addFileSource,
  addTextSource,
  addUrlSource,
  availableModels,
  type Bot,
  BotInput,
  BotPatch,
  createBot,
  createWebhook,
  deleteBot,
  deleteSource,
  deleteWebhook,
  limitsFor,
  listBots,
  listDeliveries,
  listSources,
  listWebhooks,
  requireBot,
  retrainSource,
  rotatePublicKey,
  TextSourceInput,
  updateBot,
  UrlSourceInput,
  WEBHOOK_EVENTS,
  WebhookInput,
} from "../lib/bots/mod.ts";
import { botAnalytics } from "../lib/bots/analytics.ts";
import { AppError } from "../lib/errors.ts";
import { createFormat } from "../lib/format.ts";
import { isRefusal, refusalStatus } from "./_errors.tsx";
import { Island } from "../lib/islands/island.tsx";
import { isStorableText } from "../lib/text.ts";
import BotSources from "../islands/BotSources.tsx";
import BotAnalytics from "../islands/BotAnalytics.tsx";
import { type Auth, type AuthEnv, checkCsrf, pageCsrfToken } from "./_auth.ts";
import type { AppContext } from "./_context.ts";
import { firstProblem, readForm } from "./_form.ts";
import { renderPage } from "./_render.tsx";
import { actorOf } from "./api/v1/bots.ts";
import { ANALYTICS_RANGES } from "./api/v1/bots_insights.ts";
import { PostButton } from "../islands/_post_button.tsx";

/** The settings form's fields, then validated as the API's patch (BotPatch). */
const SettingsForm = z.object({
  name: z.string(),
  greeting: z.string().default(""),
  instructions: z.string().default(""),
  model: z.string().default(""),
  temperature: z.coerce.number(),
  knowledgeOnly: z.string().optional(),
  active: z.string().optional(),
  allowedOrigins: z.string().default(""),
}).transform((f) => ({
  name: f.name,
  greeting: f.greeting,
  instructions: f.instructions,
  model: f.model || null,
  temperature: f.temperature,
  knowledgeOnly: f.knowledgeOnly === "on",
  active: f.active === "on",
  // One per line, or separated by commas.
  allowedOrigins: f.allowedOrigins.split(/[\n,]/).map((l) => l.trim()).filter(Boolean),
}));

interface Notice {
  problem?: string;
  status?: ContentfulStatusCode;
  /** A webhook's secret, shown once right after it was made. */
  secret?: string;
}

export function botPageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const sql = ctx.db.sql;
  const sandboxed = ctx.config.sandboxed;

  const signedIn = (c: Context<AuthEnv>) => {
    const auth = c.get("auth");
    if (!auth) throw new AppError("unauthorized", "Sign in to see your bots.");
    return auth;
  };

  /** Runs a form's action; a refusal re-renders the page with it, above the forms. */
  const act = async (
    c: Context<AuthEnv>,
    botId: string,
    action: (auth: Auth, values: Record<string, string>) => Promise<Notice | void>,
  ) => {
    const auth = c.get("auth");
    if (!auth) return c.redirect(`/login?next=/bots/${encodeURIComponent(botId)}`, 303);
    const values = await readForm(c);
    await checkCsrf(c, ctx, values._csrf);
    try {
      const notice = await action(auth, values);
      if (notice) return await botPage(c, auth, botId, notice);
    } catch (error) {
      if (error instanceof z.ZodError) {
        return await botPage(c, auth, botId, { problem: firstProblem(error), status: 400 });
      }
      if (isRefusal(error) && error.code !== "not_found") {
        return await botPage(c, auth, botId, {
          problem: error.message,
          status: refusalStatus(c, error),
        });
      }
      throw error;
    }
    return c.redirect(`/bots/${botId}`, 303);
  };

  const botPage = async (c: Context<AuthEnv>, auth: Auth, botId: string, notice: Notice = {}) => {
    const bot = await requireBot(sql, actorOf(auth), botId);
    const [sources, models, webhooks, deliveries, analytics, limits] = await Promise.all([
      listSources(ctx.bots.sources, bot),
      availableModels(sql),
      listWebhooks(ctx.bots.webhooks, bot.id),
      listDeliveries(ctx.bots.webhooks, bot.id, 20),
      botAnalytics(sql, bot.id, ctx.config.tzMetrics, 30),
      limitsFor(sql, bot.ownerId),
    ]);
    const csrf = await pageCsrfToken(c, ctx);
    const snippet = `<script src="${ctx.config.publicUrl}/embed.js?bot=${bot.publicKey}" async>` +
      `</script>`;
    const health = ctx.bots.health();
    return renderPage(c, {
      title: bot.name,
      sandboxed,
      body: (
        <section class="bot">
          <p>
            <a href="/bots">← Your bots</a>
          </p>
          <h1>{bot.name}</h1>
          {notice.problem && <p role="alert" class="error">{notice.problem}</p>}
          {notice.secret && (
            <p role="status" class="notice">
              Webhook signing secret (shown this once):{" "}
              <code data-testid="secret">{notice.secret}</code>
            </p>
          )}
          <p class="muted" data-testid="embedder">
            Knowledge is embedded by: {health.embeddings}; vector search: {health.retrieval}.
          </p>

          <h2>On your website</h2>
          <p>Paste this where the chat bubble should appear, on a page of an allowed website:</p>
          <pre><code data-testid="snippet">{snippet}</code></pre>
          <PostButton action={`/bots/${bot.id}/rotate-key`} csrf={csrf}>
            New key (the old snippet stops working)
          </PostButton>

          <h2>Knowledge</h2>
          <Island
            of={BotSources}
            props={{
              botId: bot.id,
              csrf,
              sources: sources.map((s) => ({
                id: s.id,
                kind: s.kind,
                title: s.title,
                url: s.url,
                status: s.status,
                description: s.description,
                parentId: s.parentId,
              })),
            }}
          />
          <div class="columns">
            <form method="post" action={`/bots/${bot.id}/sources/text`} class="stack">
              <h3>Paste text</h3>
              <input type="hidden" name="_csrf" value={csrf} />
              <label>
                Title <input name="title" required maxlength={200} />
              </label>
              <label>
                Text <textarea name="text" rows={6} required />
              </label>
              <button type="submit">Learn this text</button>
            </form>
            <form
              method="post"
              action={`/bots/${bot.id}/sources/file`}
              enctype="multipart/form-data"
              class="stack"
            >
              <h3>Upload a file</h3>
              <input type="hidden" name="_csrf" value={csrf} />
              <label>
                File <input type="file" name="file" required />
              </label>
              <p class="muted">
                {ACCEPTED_DESCRIPTION}; up to {Math.round(limits.fileMaxBytes / 1048576)} MB.
              </p>
              <button type="submit">Learn this file</button>
            </form>
            <form method="post" action={`/bots/${bot.id}/sources/url`} class="stack">
              <h3>A web page or sitemap</h3>
              <input type="hidden" name="_csrf" value={csrf} />
              <label>
                URL <input name="url" type="url" required placeholder="https://" />
              </label>
              <label class="check">
                <input type="checkbox" name="kind" value="sitemap" /> It is a sitemap.xml
              </label>
              <button type="submit">Learn this page</button>
            </form>
          </div>

          <h2>Analytics</h2>
          <Island
            of={BotAnalytics}
            props={{ botId: bot.id, initial: analytics, ranges: [...ANALYTICS_RANGES] }}
          />

          <h2>Settings</h2>
          <form method="post" action={`/bots/${bot.id}`} class="stack narrow">
            <input type="hidden" name="_csrf" value={csrf} />
            <label>
              Name <input name="name" value={bot.name} required maxlength={80} />
            </label>
            <label>
              Greeting <input name="greeting" value={bot.greeting} maxlength={500} />
            </label>
            <label>
              Instructions (its system prompt)
              <textarea name="instructions" rows={4}>{bot.instructions}</textarea>
            </label>
            <label>
              Model
              <select name="model">
                <option value="" selected={!bot.model}>The service's default</option>
                {models.map((m) => (
                  <option key={m} value={m} selected={bot.model === m}>{m}</option>
                ))}
              </select>
            </label>
            <label>
              Temperature{" "}
              <input
                name="temperature"
                type="number"
                min="0"
                max="2"
                step="0.1"
                value={bot.temperature}
              />
            </label>
            <label class="check">
              <input type="checkbox" name="knowledgeOnly" checked={bot.knowledgeOnly} />{" "}
              Answer only from its knowledge ("I don't know" otherwise)
            </label>
            <label class="check">
              <input type="checkbox" name="active" checked={bot.active} /> Answering visitors
            </label>
            <label>
              Allowed websites (one origin a line, like https://shop.example)
              <textarea name="allowedOrigins" rows={3}>{bot.allowedOrigins.join("\n")}</textarea>
            </label>
            <button type="submit">Save</button>
          </form>

          <h2>Webhooks</h2>
          <ul data-testid="webhooks">
            {webhooks.map((w) => (
              <li>
                <code>{w.url}</code> — {w.events.join(", ")}
                <form
                  method="post"
                  action={`/bots/${bot.id}/webhooks/${w.id}/delete`}
                  class="inline"
                >
                  <input type="hidden" name="_csrf" value={csrf} />
                  <button type="submit">Remove</button>
                </form>
              </li>
            ))}
          </ul>
          <form method="post" action={`/bots/${bot.id}/webhooks`} class="stack narrow">
            <input type="hidden" name="_csrf" value={csrf} />
            <label>
              URL <input name="url" type="url" required placeholder="https://" />
            </label>
            {WEBHOOK_EVENTS.map((e) => (
              <label class="check">
                <input type="checkbox" name={`event:${e}`} checked /> {e}
              </label>
            ))}
            <button type="submit">Add webhook</button>
          </form>
          {deliveries.length > 0 && (
            <table class="deliveries">
              <thead>
                <tr>
                  <th>When</th>
                  <th>Event</th>
                  <th>State</th>
                  <th>Attempts</th>
                  <th>Last answer</th>
                </tr>
              </thead>
              <tbody>
                {deliveries.map((d) => (
                  <tr>
                    <td>{createFormat(ctx.config.tzMetrics).dateTime(d.createdAt)}</td>
                    <td>{d.event}</td>
                    <td>{d.status}</td>
                    <td>{d.attempts}</td>
                    <td>{d.lastError ?? d.responseStatus ?? ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}

          <h2>Delete</h2>
          <form method="post" action={`/bots/${bot.id}/delete`}>
            <input type="hidden" name="_csrf" value={csrf} />
            <button type="submit" class="danger">Delete this bot and all it learnt</button>
          </form>
          {/* The bubble itself, to try the bot here (our own origin is always allowed). */}
          <script src={`/embed.js?bot=${bot.publicKey}`} async />
        </section>
      ),
    }, notice.status ?? 200);
  };

  app.get("/bots", async (c) => {
    const auth = c.get("auth");
    if (!auth) return c.redirect("/login?next=/bots", 303);
    return await listPage(c, auth);
  });

  const listPage = async (
    c: Context<AuthEnv>,
    auth: Auth,
    problem?: string,
    status: ContentfulStatusCode = 200,
  ) => {
    const mine = await listBots(sql, auth.user.id);
    const csrf = await pageCsrfToken(c, ctx);
    return renderPage(c, {
      title: "Your bots",
      sandboxed,
      body: (
        <section>
          <h1>Your bots</h1>
          {mine.length === 0 ? <p class="muted">No bots yet.</p> : (
            <ul data-testid="bots">
              {mine.map((b: Bot) => (
                <li>
                  <a href={`/bots/${b.id}`}>{b.name}</a>{" "}
                  {!b.active && <span class="muted">(off)</span>}
                </li>
              ))}
            </ul>
          )}
          <form method="post" action="/bots" class="stack narrow">
            <h2>New bot</h2>
            {problem && <p role="alert" class="error">{problem}</p>}
            <input type="hidden" name="_csrf" value={csrf} />
            <label>
              Name <input name="name" required maxlength={80} />
            </label>
            <label>
              Greeting <input name="greeting" maxlength={500} />
            </label>
            <button type="submit">Create</button>
          </form>
        </section>
      ),
    }, status as 200);
  };

  app.post("/bots", async (c) => {
    const auth = c.get("auth");
    if (!auth) return c.redirect("/login?next=/bots", 303);
    const values = await readForm(c);
    await checkCsrf(c, ctx, values._csrf);
    const parsed = BotInput.safeParse({
      name: values.name ?? "",
      ...(values.greeting ? { greeting: values.greeting } : {}),
    });
    if (!parsed.success) return await listPage(c, auth, firstProblem(parsed.error), 400);
    try {
      const bot = await createBot(sql, auth.user.id, parsed.data);
      return c.redirect(`/bots/${bot.id}`, 303);
    } catch (error) {
      if (isRefusal(error)) {
        return await listPage(c, auth, error.message, refusalStatus(c, error));
      }
      throw error;
    }
  });

  app.get("/bots/:id", (c) => botPage(c, signedIn(c), c.req.param("id")));

  app.post("/bots/:id", (c) =>
    act(c, c.req.param("id"), async (auth, values) => {
      const patch = BotPatch.parse(SettingsForm.parse(values));
      await updateBot(sql, actorOf(auth), c.req.param("id"), patch);
    }));

  app.post("/bots/:id/rotate-key", (c) =>
    act(c, c.req.param("id"), async (auth) => {
      await rotatePublicKey(sql, actorOf(auth), c.req.param("id"));
    }));

  app.post("/bots/:id/delete", async (c) => {
    const auth = c.get("auth");
    if (!auth) return c.redirect("/login?next=/bots", 303);
    const values = await readForm(c);
    await checkCsrf(c, ctx, values._csrf);
    const files = await deleteBot(sql, actorOf(auth), c.req.param("id"));
    for (const key of files) await ctx.bots.knowledge.files.delete(key).catch(() => {});
    return c.redirect("/bots", 303);
  });

  app.post("/bots/:id/sources/text", (c) =>
    act(c, c.req.param("id"), async (auth, values) => {
      const input = TextSourceInput.parse({ title: values.title, text: values.text });
      await addTextSource(ctx.bots.sources, actorOf(auth), c.req.param("id"), input);
    }));

  app.post("/bots/:id/sources/url", (c) =>
    act(c, c.req.param("id"), async (auth, values) => {
      const input = UrlSourceInput.parse({
        url: values.url ?? "",
        kind: values.kind === "sitemap" ? "sitemap" : "url",
      });
      await addUrlSource(ctx.bots.sources, actorOf(auth), c.req.param("id"), input);
    }));

  app.post("/bots/:id/sources/file", (c) =>
    act(c, c.req.param("id"), async (auth) => {
      const file = (await c.req.parseBody()).file;
      if (!(file instanceof File)) {
        return { problem: "Choose a file to upload.", status: 400 };
      }
      await addFileSource(ctx.bots.sources, actorOf(auth), c.req.param("id"), {
        name: isStorableText(file.name) ? file.name : "Uploaded file",
        bytes: new Uint8Array(await file.arrayBuffer()),
      });
    }));

  // A source's two buttons: learn it again, or forget it.
  for (const [action, run] of [["retrain", retrainSource], ["delete", deleteSource]] as const) {
    app.post(
      `/bots/:id/sources/:sourceId/${action}`,
      (c) =>
        act(c, c.req.param("id"), async (auth) => {
          await run(ctx.bots.sources, actorOf(auth), c.req.param("id"), c.req.param("sourceId"));
        }),
    );
  }

  app.post("/bots/:id/webhooks", (c) =>
    act(c, c.req.param("id"), async (auth, values) => {
      const bot = await requireBot(sql, actorOf(auth), c.req.param("id"));
      const input = WebhookInput.parse({
        url: values.url ?? "",
        events: WEBHOOK_EVENTS.filter((e) => values[`event:${e}`] === "on"),
      });
      const hook = await createWebhook(ctx.bots.webhooks, bot.id, input);
      return { secret: hook.secret };
    }));

  app.post(
    "/bots/:id/webhooks/:webhookId/delete",
    (c) =>
      act(c, c.req.param("id"), async (auth) => {
        const bot = await requireBot(sql, actorOf(auth), c.req.param("id"));
        await deleteWebhook(ctx.bots.webhooks, bot.id, c.req.param("webhookId"));
      }),
  );

  return app;
}
