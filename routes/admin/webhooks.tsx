/**
 * `/admin/webhooks`: the WhatsApp webhook log (every delivery as received: secrets removed from
 * the headers, phone numbers masked in the body; kept WHATSAPP_WEBHOOK_LOG_DAYS days), newest
 * first, filterable by provider and outcome, with the channel's queues at a glance.
 */
import { Hono } from "hono";
import {
  channelStats,
  listWebhookLog,
  type WebhookLogEntry,
  type WebhookLogFilter,
} from "../../lib/whatsapp/webhook_log.ts";
import type { AuthEnv } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { formatCount } from "../../lib/format.ts";
import { adminPage, Json, PAGE_SIZE, Time } from "./_layout.tsx";
import { Kpi } from "../../islands/_kpi.tsx";
import { AdminList, type Column, cursorUrl } from "./_list.tsx";

const OUTCOMES = {
  ok: "Accepted (2xx)",
  refused: "Refused (4xx)",
  failed: "Failed (5xx)",
  problems: "With a problem noted",
} as const;

const PROVIDERS = [["meta", "Meta"], ["twilio", "Twilio"]] as const;

const webhookColumns = (tz: string): Column<WebhookLogEntry>[] => [
  { label: "When", cell: (r) => <Time at={r.receivedAt} tz={tz} /> },
  { label: "Provider", cell: (r) => r.provider },
  { label: "Status", cell: (r) => <code>{r.status}</code> },
  { label: "Messages", cell: (r) => r.messages },
  { label: "ms", cell: (r) => r.processingMs.toFixed(1) },
  { label: "Problem", class: "reason", cell: (r) => r.error ?? "" },
  {
    label: "Request",
    cell: (r) => (
      <details>
        <summary>
          {r.method} {r.path} ({formatCount(r.bodyBytes)} bytes)
        </summary>
        <Json value={r.headers} />
        <pre class="json">{r.body ?? ""}</pre>
      </details>
    ),
  },
];

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
      ...(outcome && Object.hasOwn(OUTCOMES, outcome)
        ? { outcome: outcome as keyof typeof OUTCOMES }
        : {}),
      ...(c.req.query("before") ? { beforeId: c.req.query("before") } : {}),
    };
    const [rows, stats] = await Promise.all([listWebhookLog(sql, filter), channelStats(sql)]);
    const shown = rows.slice(0, PAGE_SIZE);
    return adminPage(c, ctx, {
      title: "WhatsApp webhooks",
      section: "/admin/webhooks",
      children: (
        <>
          <div class="kpis">
            {([
              ["Deliveries", stats.requests24h, `last 24 h, ${stats.refused24h} refused`],
              ["Answered", stats.answered24h, `last 24 h, ${stats.pending} waiting`],
              ["Outbox", stats.queued, "messages waiting to be sent"],
              ["Not delivered", stats.failed24h + stats.dropped24h, "failed or dropped, 24 h"],
            ] as const).map(([label, value, note]) => (
              <Kpi key={label} label={label} value={formatCount(value)} note={note} />
            ))}
          </div>
          <AdminList
            c={c}
            filters={{
              action: "/admin/webhooks",
              filters: [
                {
                  select: "provider",
                  label: "Provider",
                  options: PROVIDERS,
                  value: provider ?? "",
                },
                {
                  select: "outcome",
                  label: "Outcome",
                  options: Object.entries(OUTCOMES),
                  value: outcome ?? "",
                },
              ],
            }}
            label="Webhook log"
            columns={webhookColumns(tz)}
            rows={shown}
            empty="Nothing recorded."
            rowAttributes={(r) => ({ "data-status": String(r.status) })}
            paging={{
              older: rows.length > PAGE_SIZE ? cursorUrl(c, shown[shown.length - 1].id) : null,
            }}
          />
        </>
      ),
    });
  });

  return app;
}
