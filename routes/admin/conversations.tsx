/**
 * `/admin/conversations`: read-only. Find conversations by title or by the person (e-mail,
 * phone, name) and read them, with phone numbers and e-mail addresses masked wherever they
 * appear (lib/observability/mask.ts), messages included: support needs the exchange, not the
 * personal data.
 */
import { Hono } from "hono";
import {
  conversationMessages,
  getConversation,
  searchConversations,
} from "../../lib/admin/conversations.ts";
import { notFound } from "../../lib/errors.ts";
import { maskText } from "../../lib/observability/mask.ts";
import type { AuthEnv } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { UUID } from "./_forms.ts";
import {
  adminPage,
  EmptyRow,
  PAGE_SIZE,
  pageOf,
  Pager,
  SearchForm,
  Table,
  Time,
} from "./_layout.tsx";

export function conversationRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const sql = ctx.db.sql;
  const tz = ctx.config.tzMetrics;

  app.get("/conversations", async (c) => {
    const q = (c.req.query("q") ?? "").trim().slice(0, 100);
    const { page, offset, limit } = pageOf(c);
    const rows = await searchConversations(sql, q, { limit, offset });
    return adminPage(c, ctx, {
      title: "Conversations",
      section: "/admin/conversations",
      children: (
        <>
          <SearchForm
            action="/admin/conversations"
            q={q}
            placeholder="title, e-mail, phone or name"
          />
          <Table label="Conversations">
            <thead>
              <tr>
                <th>Started</th>
                <th>Person</th>
                <th>Channel</th>
                <th>Mode</th>
                <th>Title</th>
                <th class="num">Messages</th>
                <th>Last activity</th>
              </tr>
            </thead>
            <tbody>
              {rows.slice(0, limit).map((r) => (
                <tr>
                  <td>
                    <a href={`/admin/conversations/${r.id}`}>
                      <Time at={r.created_at} tz={tz} />
                    </a>
                  </td>
                  <td data-testid="person">{maskText(r.phone ?? r.email ?? "")}</td>
                  <td>{r.channel}</td>
                  <td>{r.mode}</td>
                  <td>{maskText(r.title ?? "")}</td>
                  <td class="num">{r.messages}</td>
                  <td>
                    <Time at={r.last_activity_at} tz={tz} />
                  </td>
                </tr>
              ))}
              <EmptyRow when={rows.length === 0} columns={7}>No conversations match.</EmptyRow>
            </tbody>
          </Table>
          <Pager c={c} page={page} hasMore={rows.length > limit} />
        </>
      ),
    });
  });

  app.get("/conversations/:id", async (c) => {
    const id = c.req.param("id");
    const conv = UUID.test(id) ? await getConversation(sql, id) : null;
    if (!conv) throw notFound("This conversation");
    const { page } = pageOf(c);
    const limit = PAGE_SIZE * 2; // messages are short: twice a table's page
    const messages = await conversationMessages(sql, id, { limit, offset: (page - 1) * limit });
    return adminPage(c, ctx, {
      title: maskText(conv.title ?? "Conversation"),
      section: "/admin/conversations",
      children: (
        <>
          <p>
            {maskText(conv.phone ?? conv.email ?? "")} · {conv.channel} · {conv.mode} · started{" "}
            <Time at={conv.created_at} tz={tz} /> ·{" "}
            <a href={`/admin/users/${conv.user_id}`}>the person's account</a>
          </p>
          {conv.summary && <p class="muted">Summary: {maskText(conv.summary)}</p>}
          <ol class="transcript">
            {messages.slice(0, limit).map((m) => (
              <li class={`msg msg-${m.role}`}>
                <div class="msg-meta">
                  <strong>{m.role === "user" ? "Person" : "Assistant"}</strong>{" "}
                  <Time at={m.created_at} tz={tz} />
                  {m.role === "assistant" && (
                    <>
                      {" "}· {m.model ?? "?"} · {m.tokens_in ?? "?"} in / {m.tokens_out ?? "?"}{" "}
                      out · {m.cost ?? 0} tokens charged
                      {m.latency_ms !== null &&
                        ` · ${m.latency_ms} ms (first token ${m.ttft_ms} ms)`}
                    </>
                  )}
                  {m.status !== "complete" && <span class="badge bad">{m.status}</span>}
                </div>
                <p class="msg-text">{maskText(m.content)}</p>
              </li>
            ))}
          </ol>
          <Pager c={c} page={page} hasMore={messages.length > limit} />
        </>
      ),
    });
  });

  return app;
}
