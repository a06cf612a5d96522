/**
 * `/admin/conversations`: read-only. Find conversations by title or by the person (e-mail,
 * phone, name) and read them, with phone numbers and e-mail addresses masked wherever they
 * appear (lib/observability/mask.ts), messages included: support needs the exchange, not the
 * personal data.
 */
import { Hono } from "hono";
import {
  conversationMessages,
  type ConversationRow,
  getConversation,
  searchConversations,
} from "../../lib/admin/conversations.ts";
import { maskText } from "../../lib/observability/mask.ts";
import type { AuthEnv } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { foundById } from "./_forms.ts";
import { adminPage, PAGE_SIZE, pageOf, Pager, Time } from "./_layout.tsx";
import { type Column, searchListPage } from "./_list.tsx";

const conversationColumns = (tz: string): Column<ConversationRow>[] => [
  {
    label: "Started",
    cell: (r) => (
      <a href={`/admin/conversations/${r.id}`}>
        <Time at={r.created_at} tz={tz} />
      </a>
    ),
  },
  {
    label: "Person",
    cell: (r) => <span data-testid="person">{maskText(r.phone ?? r.email ?? "")}</span>,
  },
  { label: "Channel", cell: (r) => r.channel },
  { label: "Mode", cell: (r) => r.mode },
  { label: "Title", cell: (r) => maskText(r.title ?? "") },
  { label: "Messages", num: true, cell: (r) => r.messages },
  { label: "Last activity", cell: (r) => <Time at={r.last_activity_at} tz={tz} /> },
];

export function conversationRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const sql = ctx.db.sql;
  const tz = ctx.config.tzMetrics;

  app.get("/conversations", (c) =>
    searchListPage(c, ctx, {
      title: "Conversations",
      section: "/admin/conversations",
      searchHint: "title, e-mail, phone or name",
      columns: conversationColumns(tz),
      empty: "No conversations match.",
      search: (q, page) => searchConversations(sql, q, page),
    }));

  app.get("/conversations/:id", async (c) => {
    const id = c.req.param("id");
    const conv = await foundById(id, "This conversation", (id) => getConversation(sql, id));
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
