/**
 * `/chat`: the end users' AI chat page. Server-rendered with the user's conversations and
 * balance, then the Chat island takes over (streaming over the API: routes/api/v1/chat.ts).
 */
import { Hono } from "hono";
import { listConversations, topUpUrl } from "../lib/chat/mod.ts";
import { Island } from "../lib/islands/island.tsx";
import { getBalance } from "../lib/wallet/ledger.ts";
import Chat from "../islands/Chat.tsx";
import { type AuthEnv, pageCsrfToken, staffHome } from "./_auth.ts";
import type { AppContext } from "./_context.ts";
import { renderPage } from "./_render.tsx";

export function chatRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();

  app.get("/chat", async (c) => {
    const auth = c.get("auth");
    if (!auth) return c.redirect("/login?next=/chat", 303);
    const [wallet, conversations, ai, csrf] = await Promise.all([
      getBalance(ctx.db.sql, auth.user.id),
      listConversations(ctx.db.sql, auth.user.id, { limit: 50 }),
      ctx.chat.runtime.ai.active().catch(() => null),
      pageCsrfToken(c, ctx),
    ]);
    return renderPage(c, {
      title: "Chat",
      sandboxed: ctx.config.sandboxed,
      viewer: { signedIn: true, csrf, staffHome: staffHome(auth) },
      body: (
        <Island
          of={Chat}
          props={{
            csrf,
            balance: wallet.available,
            topUpUrl: topUpUrl(ctx.config),
            // What a message costs, for the estimate shown before a long one is sent.
            pricing: ai
              ? {
                inputPer1k: ai.config.priceInputPer1k,
                outputPer1k: ai.config.priceOutputPer1k,
                chatMaxOutputTokens: ai.config.maxOutputTokens,
                essayMaxOutputTokens: ai.config.essayMaxOutputTokens,
              }
              : null,
            conversations: conversations.map((x) => ({
              id: x.id,
              mode: x.mode,
              title: x.title,
              lastActivityAt: x.lastActivityAt.toISOString(),
            })),
          }}
        />
      ),
    });
  });

  return app;
}
