/**
 * Daily-metrics backfill bench: seconds per day to compute and store a day's figures
 * (lib/metrics/daily.ts `recordDay`) over a generated month, read against the cheapest possible
 * per-day scan (`count(*)` of the day's messages on their index) measured in the same run.
 *
 * The month comes from tasks/seed_metrics.ts: BENCH_METRICS_MESSAGES messages (default
 * 1,000,000) and BENCH_METRICS_PAYMENTS payments (default 50,000) over BENCH_METRICS_DAYS days
 * (default 30), in a fresh database on the server named by DATABASE_URL. Without DATABASE_URL it
 * runs on the embedded database with a tenth of the rows by default (PGlite is not what
 * production runs; the target is for a real Postgres).
 *
 * Reported: the seed time, baseline and backfill per day (median, p95, max, mean), a second pass
 * (re-running a day must change nothing), and on a real server the sequential scans the backfill
 * caused on the big tables (there should be none).
 */
import { recordDay } from "../lib/metrics/daily.ts";
import { dayBounds } from "../lib/metrics/daily.ts";
import { addDays, daysFrom } from "../lib/metrics/days.ts";
import { seedMetrics } from "../tasks/seed_metrics.ts";
import { envNumber, integer, ms, onCleanup, percentile, seconds, table } from "./_support.ts";
import { benchStorage } from "./_app.ts";

export const description =
  "daily metrics backfill of a generated month (1M messages, 50k payments) vs a bare per-day count";

const TARGET_SECONDS_PER_DAY = 1;
const TZ = "Africa/Harare";
const FROM = "2026-01-01";
const BIG_TABLES = ["users", "messages", "payments", "ledger_entries", "conversations"];

interface Pass {
  label: string;
  perDay: Float64Array;
  changed: number;
}

function summary(p: Pass): string[] {
  const sorted = p.perDay.slice().sort();
  const mean = sorted.reduce((s, x) => s + x, 0) / sorted.length;
  return [
    p.label,
    ms(percentile(sorted, 50)),
    ms(percentile(sorted, 95)),
    ms(sorted[sorted.length - 1]),
    ms(mean),
    (mean / 1000).toFixed(3),
    p.changed < 0 ? "" : integer(p.changed),
  ];
}

export async function run(): Promise<void> {
  const server = Boolean(Deno.env.get("DATABASE_URL"));
  const scale = server ? 1 : 0.1;
  const messages = envNumber("BENCH_METRICS_MESSAGES", 1_000_000 * scale, 0, 50_000_000);
  const payments = envNumber("BENCH_METRICS_PAYMENTS", 50_000 * scale, 0, 5_000_000);
  const days = envNumber("BENCH_METRICS_DAYS", 30, 1, 366);
  const users = Math.max(100, Math.round(messages / 50));

  const storage = await benchStorage();
  const removeStorage = storage.remove;
  try {
    const db = await storage.openDatabase();
    const closeDb = onCleanup(() => db.close());
    try {
      const sql = db.sql;
      console.log(
        `Data: ${integer(messages)} messages, ${integer(payments)} payments, ${integer(users)} ` +
          `users over ${days} days from ${FROM} (${TZ}), on a fresh ${
            server ? "database on the DATABASE_URL server" : "embedded database (PGlite)"
          }`,
      );
      if (!server) {
        console.log(
          "  NOTE: no DATABASE_URL: the target is for a real Postgres; set it for the " +
            "full-size run",
        );
      }
      const seeded = await seedMetrics(sql, {
        from: FROM,
        days,
        messages,
        payments,
        users,
        timeZone: TZ,
      });
      console.log(
        `  seeded in ${seconds(seeded.ms)}: ` +
          Object.entries(seeded.rows).filter(([, n]) => n > 0)
            .map(([t, n]) => `${t} ${integer(n)}`).join(", ") +
          "\n",
      );

      const list = daysFrom(FROM, addDays(FROM, days - 1));
      const bounds = await Promise.all(list.map((d) => dayBounds(sql, d, TZ)));
      const stats = async () =>
        server
          ? Object.fromEntries(
            (await sql`select relname, seq_scan from pg_stat_user_tables
                       where relname in ${sql(BIG_TABLES)}`).map((r) => [r.relname, r.seq_scan]),
          )
          : {};

      // Baseline: the day's messages counted on their index, nothing else.
      const baseline: Pass = {
        label: "baseline: count(*) of the day's messages",
        perDay: new Float64Array(days),
        changed: -1,
      };
      for (let i = 0; i < days; i++) {
        const t = performance.now();
        await sql`select count(*) from messages
                  where created_at >= ${bounds[i].start} and created_at < ${bounds[i].end}`;
        baseline.perDay[i] = performance.now() - t;
      }

      const before = await stats();
      const passes: Pass[] = [];
      for (const label of ["backfill (first run)", "backfill again (no change)"]) {
        const pass: Pass = { label, perDay: new Float64Array(days), changed: 0 };
        for (let i = 0; i < days; i++) {
          const t = performance.now();
          const r = await recordDay(sql, list[i], TZ);
          pass.perDay[i] = performance.now() - t;
          pass.changed += r.changed;
        }
        passes.push(pass);
      }
      // Statistics reach the view when a backend reports them (about once a second).
      if (server) await new Promise((r) => setTimeout(r, 1500));
      const after = await stats();

      console.log(table(
        ["per day", "median ms", "p95 ms", "max ms", "mean ms", "s/day", "rows changed"],
        [baseline, ...passes].map(summary),
        ["l", "r", "r", "r", "r", "r", "r"],
      ));
      const [first, second] = passes;
      const mean = first.perDay.reduce((s, x) => s + x, 0) / days / 1000;
      const worst = first.perDay.slice().sort()[days - 1] / 1000;
      console.log(
        `  ${(mean * 1000 / (baseline.perDay.reduce((s, x) => s + x, 0) / days)).toFixed(1)}× ` +
          `the baseline per day; ${integer(messages / days)} messages and ${
            integer(payments / days)
          } payments a day`,
      );
      if (second.changed !== 0) {
        console.log(`  WARNING: the second pass changed ${second.changed} rows (expected 0)`);
      }
      if (server) {
        const scans = BIG_TABLES.map((t) => `${t} ${(after[t] ?? 0) - (before[t] ?? 0)}`);
        console.log(`  sequential scans during the backfill: ${scans.join(", ")}`);
      }
      console.log(
        `  target < ${TARGET_SECONDS_PER_DAY} s per day: mean ${mean.toFixed(3)} s, worst ` +
          `${worst.toFixed(3)} s, ${worst < TARGET_SECONDS_PER_DAY ? "met" : "NOT MET"}` +
          (server && messages >= 1_000_000 ? "" : " (at this size; see the note above)"),
      );
    } finally {
      await closeDb();
    }
  } finally {
    await removeStorage();
  }
}
