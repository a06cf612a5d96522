/**
 * `/admin/webhooks`: the WhatsApp webhook log (every delivery as received: secrets removed from
 * the headers, phone numbers masked in the body; kept WHATSAPP_WEBHOOK_LOG_DAYS days), newest
 * first, filterable by provider and outcome, with the channel's queues at a glance.
 */
import { Hono } from "hono";
import {
  channelStats,
  listWebhookLog,
  type WebhookLogFilter,
} from "../../lib/whatsapp/webhook_log.ts";
import type { AuthEnv } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import {
  adminPage,
  EmptyRow,
  formatCount,
  Json,
  PAGE_SIZE,
  Table,
  Time,
  withQuery,
} from "./_layout.tsx";

const OUTCOMES = {
  ok: "Accepted (2xx)",
  refused: "Refused (4xx)",
  failed: "Failed (5xx)",
  problems: "With a problem noted",
} as const;

export function webhookRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const sql = ctx.db.sql;
  const tz = ctx.config.tzMetrics;

  app.get("/webhooks", async (c) => {
    const provider = c.req.query("provider");
    const outcome = c.req.query("outcome");
    const filter: WebhookLogFilter = {
      limit: PAGE_SIZE + 1,
      ...(provider === "meta" || provider === "twilio" ? { provider } : {}),
      ...(outcome && outcome in OUTCOMES ? { outcome: outcome as keyof typeof OUTCOMES } : {}),
      ...(c.req.query("before") ? { beforeId: c.req.query("before") } : {}),
    };
    const [rows, stats] = await Promise.all([listWebhookLog(sql, filter), channelStats(sql)]);
    const shown = rows.slice(0, PAGE_SIZE);
    const kpi = (label: string, value: number, note: string) => (
      <div class="kpi">
        <span class="kpi-label">{label}</span>
        <strong>{formatCount(value)}</strong>
        <small>{note}</small>
      </div>
    );
    return adminPage(c, ctx, {
      title: "WhatsApp webhooks",
      section: "/admin/webhooks",
      children: (
        <>
          <div class="kpis">
            {kpi("Deliveries", stats.requests24h, `last 24 h, ${stats.refused24h} refused`)}
            {kpi("Answered", stats.answered24h, `last 24 h, ${stats.pending} waiting`)}
            {kpi("Outbox", stats.queued, "messages waiting to be sent")}
            {kpi("Not delivered", stats.failed24h + stats.dropped24h, "failed or dropped, 24 h")}
          </div>
          <form method="get" action="/admin/webhooks" class="filters">
            <label>
              Provider
              <select name="provider">
                <option value="">any</option>
                <option value="meta" selected={provider === "meta"}>Meta</option>
                <option value="twilio" selected={provider === "twilio"}>Twilio</option>
              </select>
            </label>
            <label>
              Outcome
              <select name="outcome">
                <option value="">any</option>
                {Object.entries(OUTCOMES).map(([value, label]) => (
                  <option value={value} selected={outcome === value}>{label}</option>
                ))}
              </select>
            </label>
            <button type="submit">Filter</button>
          </form>
          <Table label="Webhook log">
            <thead>
              <tr>
                <th>When</th>
                <th>Provider</th>
                <th>Status</th>
                <th>Messages</th>
                <th>ms</th>
                <th>Problem</th>
                <th>Request</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((r) => (
                <tr data-status={r.status}>
                  <td>
                    <Time at={r.receivedAt} tz={tz} />
                  </td>
                  <td>{r.provider}</td>
                  <td>
                    <code>{r.status}</code>
                  </td>
                  <td>{r.messages}</td>
                  <td>{r.processingMs.toFixed(1)}</td>
                  <td class="reason">{r.error ?? ""}</td>
                  <td>
                    <details>
                      <summary>
                        {r.method} {r.path} ({formatCount(r.bodyBytes)} bytes)
                      </summary>
                      <Json value={r.headers} />
                      <pre class="json">{r.body ?? ""}</pre>
                    </details>
                  </td>
                </tr>
              ))}
              <EmptyRow when={shown.length === 0} columns={7}>Nothing recorded.</EmptyRow>
            </tbody>
          </Table>
          {rows.length > PAGE_SIZE && (
            <nav class="pager" aria-label="Pages">
              <a href={withQuery(c, { before: shown[shown.length - 1].id })} rel="next">Older →</a>
            </nav>
          )}
        </>
      ),
    });
  });

  return app;
}
