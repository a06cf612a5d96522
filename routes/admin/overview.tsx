/**
 * `/admin`: today so far (live queries over today's rows, the same computation as the nightly
 * figures) and the last 30/90/365 days from `daily_metrics` as charts with headline figures
 * compared with the period before (islands/MetricsChart.tsx switches the range through
 * `/admin/api/metrics` without reloading), beside the live feed (islands/LiveFeed.tsx).
 */
import { Hono } from "hono";
import LiveFeed from "../../islands/LiveFeed.tsx";
import MetricsChart from "../../islands/MetricsChart.tsx";
import { Island } from "../../lib/islands/island.tsx";
import { computeDay, yesterday } from "../../lib/metrics/daily.ts";
import { dayIn } from "../../lib/metrics/days.ts";
import { isRange, overview, RANGES } from "../../lib/metrics/overview.ts";
import type { AuthEnv } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { createFormat, formatCount } from "../../lib/format.ts";
import { adminPage } from "./_layout.tsx";
import { Kpi } from "../../islands/_kpi.tsx";

/** How many events the live feed keeps on screen. */
export const FEED_SIZE = 30;

export function overviewRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const sql = ctx.db.sql;
  const tz = ctx.config.tzMetrics;

  app.get("/", async (c) => {
    const asked = Number(c.req.query("range") ?? 30);
    const range = isRange(asked) ? asked : 30;
    const now = new Date();
    const today = dayIn(now, tz);
    const format = createFormat(tz);
    const figures = await computeDay(sql, today, tz);
    const data = await overview(sql, {
      range,
      yesterday: yesterday(now, tz),
      today: { day: today, rows: figures },
    });
    const get = (metric: string, dims = "") =>
      Number(figures.find((f) => f.metric === metric && f.dims === dims)?.value ?? 0);
    const cards: [string, string][] = [
      ["New users", formatCount(get("users.new"))],
      ["Active users", formatCount(get("users.active"))],
      [
        "Messages in / out",
        `${formatCount(get("messages.in"))} / ${formatCount(get("messages.out"))}`,
      ],
      ["Payments paid", formatCount(get("payments.paid"))],
      ["Revenue", format.money("USD", get("payments.paid_amount", "currency=USD"))],
      ["Revenue", format.money("ZiG", get("payments.paid_amount", "currency=ZiG"))],
      ["Tokens used", formatCount(get("wallet.tokens_used"))],
      ["Dead-lettered jobs", formatCount(get("jobs.dead_lettered"))],
      ["Webhook errors", formatCount(get("webhooks.errors"))],
    ];
    return adminPage(c, ctx, {
      title: "Overview",
      section: "/admin",
      children: (
        <div class="overview">
          <section aria-labelledby="today">
            <h2 id="today">Today so far ({format.date(now)})</h2>
            <div class="kpis" data-testid="today">
              {cards.map(([label, value]) => <Kpi key={label} label={label} value={value} />)}
            </div>
          </section>
          <div class="overview-grid">
            <section aria-label="Trends">
              <Island of={MetricsChart} props={{ initial: data, ranges: [...RANGES] }} />
            </section>
            <aside aria-labelledby="feed">
              <h2 id="feed">Live</h2>
              <Island of={LiveFeed} props={{ max: FEED_SIZE, timeZone: tz }} />
            </aside>
          </div>
        </div>
      ),
    });
  });

  return app;
}
