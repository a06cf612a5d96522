/**
 * `metrics.daily`, every day at 00:10 in TZ_METRICS: records yesterday's figures in
 * `daily_metrics` (lib/metrics/daily.ts), and any of the seven days before it that have none
 * (days missed while no instance ran). With several instances the tick runs once (cron_runs).
 *
 * By hand, any range (re-running a day is harmless):
 * `deno task job metrics:daily --from 2026-01-01 --to 2026-01-31`
 * (`--to` defaults to yesterday; no flags = what the schedule does).
 */
import { z } from "zod";
import { defineCron } from "../lib/jobs/types.ts";
import { addDays, daysFrom, isDay } from "../lib/metrics/days.ts";
import { missingDays, recordDay, yesterday } from "../lib/metrics/daily.ts";
import { recordBotDay } from "../lib/bots/analytics.ts";

const Day = z.string().refine(isDay, "expected a day written YYYY-MM-DD");
const CATCH_UP_DAYS = 7;
const MAX_RANGE_DAYS = 3660;

export const metricsDailyArgs = z.object({ from: Day.optional(), to: Day.optional() })
  .strict()
  .refine((a) => !a.to || a.from, { message: "--to needs --from", path: ["from"] })
  .refine((a) => !a.from || !a.to || a.from <= a.to, {
    message: "--from must not be after --to",
    path: ["from"],
  });

export const metricsDailyCron = defineCron({
  name: "metrics.daily",
  schedule: "10 0 * * *",
  args: metricsDailyArgs,
  async run(ctx, args, tick) {
    const tz = ctx.config.tzMetrics;
    const last = yesterday(tick.scheduledFor ?? new Date(), tz);
    let days: string[];
    if (args?.from) {
      days = daysFrom(args.from, args.to ?? last);
      if (days.length > MAX_RANGE_DAYS) {
        throw new Error(`${days.length} days asked for; at most ${MAX_RANGE_DAYS} at a time`);
      }
    } else {
      const missed = await missingDays(
        ctx.db.sql,
        daysFrom(addDays(last, -CATCH_UP_DAYS), addDays(last, -1)),
      );
      days = [...missed, last];
    }
    let slowest = 0;
    const started = performance.now();
    for (const day of days) {
      const { changed, ms, rows } = await recordDay(ctx.db.sql, day, tz);
      await recordBotDay(ctx.db.sql, day, tz); // each bot's figures (lib/bots/analytics.ts)
      slowest = Math.max(slowest, ms);
      ctx.log.info("daily metrics recorded", {
        day,
        figures: rows.length,
        changed,
        ms: Math.round(ms),
      });
    }
    if (days.length > 1) {
      ctx.log.info("daily metrics range recorded", {
        from: days[0],
        to: days[days.length - 1],
        days: days.length,
        msPerDay: Math.round((performance.now() - started) / days.length),
        slowestMs: Math.round(slowest),
      });
    }
  },
});
