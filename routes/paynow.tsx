/**
 * Paynow's two URLs: the result URL it POSTs status updates to (server to server) and the
 * return URL the payer's browser lands on. Result POSTs are unreliable and unauthenticated but
 * for their hash, so one is never acted on directly: its hash is checked, then the payment is
 * polled, and only what the poll says changes anything.
 */
import { Hono } from "hono";
import { Island } from "../lib/islands/island.tsx";
import { paymentPollJob } from "../lib/payments/jobs.ts";
import { getPayment, paymentForResult } from "../lib/payments/mod.ts";
import { PaynowError } from "../lib/paynow/mod.ts";
import PaymentStatus from "../islands/PaymentStatus.tsx";
import type { AuthEnv } from "./_auth.ts";
import type { AppContext } from "./_context.ts";
import { renderPage } from "./_render.tsx";
import { notFound } from "../lib/errors.ts";
import { createFormat } from "../lib/format.ts";

export function paynowRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();

  /** https://developers.paynow.co.zw — "Status Update": form-encoded, signed with the key. */
  app.post("/api/paynow/result", async (c) => {
    const body = await c.req.text();
    let found;
    try {
      found = await paymentForResult(ctx.db.sql, ctx.payments.paynow, body);
    } catch (error) {
      if (error instanceof PaynowError) {
        ctx.log.warn("Paynow result POST refused", { reason: error.code, error: error.message });
        return c.text("Invalid hash", 400);
      }
      throw error;
    }
    if (!found) {
      ctx.log.warn("Paynow result POST for an unknown payment ignored");
      return c.text("OK"); // nothing to retry for: stop Paynow's re-sends
    }
    await ctx.jobs.enqueue(paymentPollJob, { paymentId: found.payment.id }, {
      dedupeKey: `${found.payment.id}:result:${found.status.status.toLowerCase()}`,
      dedupeTtlMs: 10 * 60_000,
    });
    ctx.log.info("Paynow result POST accepted; confirming by poll", {
      paymentId: found.payment.id,
      paynowStatus: found.status.status,
    });
    return c.text("OK");
  });

  /** The payment's public status, by its unguessable id (the return page polls it). */
  app.get("/pay/status/:id", async (c) => {
    const p = await getPayment(ctx.db.sql, c.req.param("id"));
    if (!p) throw notFound("This payment");
    c.header("Cache-Control", "no-store");
    return c.json({ id: p.id, status: p.status, tokens: p.tokens });
  });

  app.get("/pay/return", async (c) => {
    const p = await getPayment(ctx.db.sql, c.req.query("payment") ?? "");
    if (!p) throw notFound("This payment");
    const format = createFormat(ctx.config.tzMetrics);
    return renderPage(c, {
      title: "Your payment",
      sandboxed: ctx.config.sandboxed,
      body: (
        <>
          <h1>Your payment</h1>
          <p>
            {format.count(p.tokens)} tokens for {format.money(p.currency, p.amount)}
          </p>
          {p.instructions && p.status === "sent" && (
            <p data-testid="instructions">{p.instructions}</p>
          )}
          {p.method === "web" && p.browserUrl && p.status === "sent" && (
            <p>
              Not paid yet? <a href={p.browserUrl}>Continue on Paynow's website</a>
            </p>
          )}
          <Island
            of={PaymentStatus}
            props={{ paymentId: p.id, status: p.status, tokens: p.tokens }}
          />
        </>
      ),
    });
  });

  return app;
}
