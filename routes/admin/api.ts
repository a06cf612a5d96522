/**
 * The admin islands' endpoints (same session and guard as the pages, JSON or SSE):
 *
 * - `GET /admin/api/metrics?range=30|90|365` → the overview's series and headline figures;
 * - `GET /admin/api/feed` → Server-Sent Events: `ready`, then the recent events and each new one
 *   as `feed` (payments changing status, jobs dead-lettered, messages of every conversation on
 *   every channel; lib/metrics/feed.ts), with a heartbeat comment every 15 s so proxies keep
 *   the stream open.
 */
import { Hono } from "hono";
import { AppError } from "../../lib/errors.ts";
import { liveSource, SSE_HEADERS, sseStream } from "../_sse.ts";
import { computeDay, yesterday } from "../../lib/metrics/daily.ts";
import { dayIn } from "../../lib/metrics/days.ts";
import { createAdminFeed, type FeedEvent } from "../../lib/metrics/feed.ts";
import { isRange, overview, RANGES } from "../../lib/metrics/overview.ts";
import type { AuthEnv } from "../_auth.ts";
import type { AppContext } from "../_context.ts";

export function adminApiRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  // One poller per app, running only while an admin has the feed open.
  const feed = createAdminFeed(ctx.db.sql, { log: ctx.log });

  app.get("/api/metrics", async (c) => {
    const range = Number(c.req.query("range") ?? 30);
    if (!isRange(range)) {
      throw new AppError("validation_failed", `range must be one of ${RANGES.join(", ")}.`);
    }
    const now = new Date();
    const tz = ctx.config.tzMetrics;
    const today = dayIn(now, tz);
    const data = await overview(ctx.db.sql, {
      range,
      yesterday: yesterday(now, tz),
      today: { day: today, rows: await computeDay(ctx.db.sql, today, tz) },
    });
    return c.json(data);
  });

  app.get("/api/feed", (c) => {
    const toEvent = (e: FeedEvent) => ({ event: "feed", data: e, id: e.id });
    // Subscribed before the recent events are read: nothing falls between the two (the feed
    // drops what `recent` already returned).
    const source = liveSource<FeedEvent>((push) => feed.subscribe(push), toEvent, async (push) => {
      push({ event: "ready", data: {} });
      for (const e of await feed.recent()) push(toEvent(e));
    });
    return c.body(sseStream(source), 200, SSE_HEADERS);
  });

  return app;
}
