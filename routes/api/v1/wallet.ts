/** `/api/v1/wallet`: the balance and the ledger of the signed-in user's tokens. */
import { getBalance, listEntries } from "../../../lib/wallet/ledger.ts";
import { requireAuth } from "../../_auth.ts";
import type { AppContext } from "../../_context.ts";
import { apiRouter, bearerRoutes, json, z } from "../_openapi.ts";
import { cursorPage, cursorParam } from "../_reads.ts";

const route = bearerRoutes(["wallet"]);

const Balance = z.object({
  balance: z.number().int().openapi({ description: "Tokens owned" }),
  reserved: z.number().int().openapi({ description: "Held for answers being written" }),
  available: z.number().int().openapi({ description: "balance − reserved: what can be spent now" }),
}).openapi("WalletBalance");

const Entry = z.object({
  id: z.uuid(),
  kind: z.enum(["purchase_credit", "usage_debit", "refund", "admin_adjustment", "signup_grant"]),
  delta: z.number().int().openapi({ description: "Change to the balance: + credit, − debit" }),
  description: z.string(),
  reference: z.record(z.string(), z.unknown()),
  createdAt: z.string().openapi({ format: "date-time" }),
}).openapi("LedgerEntry");

export function walletRoutes(ctx: AppContext) {
  const app = apiRouter();

  app.openapi(
    route({
      method: "get",
      path: "/wallet",
      summary: "The token balance",
      responses: { 200: json(Balance, "The balance") },
    }),
    async (c) => c.json(await getBalance(ctx.db.sql, requireAuth(c).user.id), 200),
  );

  app.openapi(
    route({
      method: "get",
      path: "/wallet/ledger",
      summary: "Ledger entries, newest first",
      request: {
        query: z.object({
          limit: z.coerce.number().int().min(1).max(100).default(20),
          cursor: cursorParam,
        }),
      },
      responses: {
        200: json(cursorPage({ entries: z.array(Entry) }), "A page"),
      },
    }),
    async (c) => {
      const page = await listEntries(ctx.db.sql, requireAuth(c).user.id, c.req.valid("query"));
      return c.json({
        entries: page.entries.map((e) => ({ ...e, createdAt: e.createdAt.toISOString() })),
        nextCursor: page.nextCursor,
      }, 200);
    },
  );

  return app;
}
