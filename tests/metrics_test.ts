/**
 * Daily metrics (lib/metrics/daily.ts, jobs/metrics_daily.ts): the figures equal an independent
 * count over the raw rows (days decided here with Intl in the metrics time zone, not with SQL
 * ranges), storing a day twice changes nothing, the nightly tick runs once across two instances,
 * and `deno task job metrics:daily --from … --to …` backfills a range. Runs on whichever database
 * back end the run uses.
 */
import assert from "node:assert/strict";
import { denoCommand, prepareStorage, startTestApp } from "./harness.ts";
import { generateMetricsData } from "./fixtures/metrics_data.ts";
import type { Sql } from "../lib/db/mod.ts";
import { twoSchedulers } from "./schedulers.ts";
import { computeDay, dimsKey, recordDay, storeDay } from "../lib/metrics/daily.ts";
import { dayIn, daysFrom } from "../lib/metrics/days.ts";
import { metricsDailyCron } from "../jobs/metrics_daily.ts";

const TZ = "Africa/Harare"; // UTC+2, no daylight saving
const DAYS = ["2026-03-09", "2026-03-10", "2026-03-11"];
// Local midnight of 03-10 and 03-11 and the millisecond before each: the boundaries that count.
const EDGES = [
  new Date("2026-03-09T21:59:59.999Z"),
  new Date("2026-03-09T22:00:00.000Z"),
  new Date("2026-03-10T21:59:59.999Z"),
  new Date("2026-03-10T22:00:00.000Z"),
];

/** Generated raw rows from `from` to `to` (instants), with the edges above among them. */
const generate = (sql: Sql, from: string, to: string, seed?: number) =>
  generateMetricsData(sql, { from: new Date(from), to: new Date(to), edges: EDGES, seed });

/** percentile_cont: linear interpolation between the closest ranks. */
function percentileCont(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const rank = p * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo] + (s[hi] - s[lo]) * (rank - lo);
}

/** The figures of `day`, computed in JavaScript from every raw row. */
async function expectedFigures(sql: Sql, day: string): Promise<Map<string, number>> {
  const on = (at: Date | null) => at !== null && dayIn(at, TZ) === day;
  const out = new Map<string, number>();
  const add = (metric: string, value: number, dims: Record<string, string> = {}) => {
    const key = `${metric}|${dimsKey(dims)}`;
    out.set(key, (out.get(key) ?? 0) + value);
  };
  const set = (metric: string, value: number, dims: Record<string, string> = {}) =>
    out.set(`${metric}|${dimsKey(dims)}`, value);

  const users = await sql`select created_at from users`;
  set("users.new", users.filter((u) => on(u.created_at)).length);

  const messages = (await sql`select * from messages`).filter((m) => on(m.created_at));
  const asking = messages.filter((m) => m.role === "user");
  set("users.active", new Set(asking.map((m) => m.user_id)).size);
  for (const channel of new Set(asking.map((m) => m.channel))) {
    set(
      "users.active",
      new Set(asking.filter((m) => m.channel === channel).map((m) => m.user_id)).size,
      { channel },
    );
  }
  set("messages.in", 0);
  set("messages.out", 0);
  for (const m of messages) {
    const metric = m.role === "user" ? "messages.in" : "messages.out";
    add(metric, 1);
    add(metric, 1, { channel: m.channel });
    add(metric, 1, { channel: m.channel, mode: m.mode });
  }
  const answers = messages.filter((m) => m.role === "assistant");
  const sum = (rows: Record<string, unknown>[], col: string) =>
    rows.reduce((s, r) => s + Number(r[col] ?? 0), 0);
  set("ai.tokens_in", sum(answers, "tokens_in"));
  set("ai.tokens_out", sum(answers, "tokens_out"));
  set("ai.cost", sum(answers, "cost"));
  const p95 = (col: string) =>
    percentileCont(answers.filter((a) => a[col] !== null).map((a) => a[col]), 0.95);
  if (p95("latency_ms") !== null) set("ai.latency_p95_ms", p95("latency_ms")!);
  if (p95("ttft_ms") !== null) set("ai.ttft_p95_ms", p95("ttft_ms")!);

  const entries = (await sql`select kind, amount, created_at from ledger_entries`)
    .filter((e) => on(e.created_at));
  set("wallet.tokens_sold", sum(entries.filter((e) => e.kind === "purchase_credit"), "amount"));
  set("wallet.tokens_used", sum(entries.filter((e) => e.kind === "usage_debit"), "amount"));

  const payments = await sql`select * from payments`;
  // deno-lint-ignore no-explicit-any
  const count = (metric: string, rows: Record<string, any>[]) => {
    set(`payments.${metric}`, rows.length);
    for (const p of rows) {
      add(`payments.${metric}`, 1, { currency: p.currency, method: p.method });
      add(`payments.${metric}_amount`, Number(p.amount), {
        currency: p.currency,
        method: p.method,
      });
      add(`payments.${metric}_amount`, Number(p.amount), { currency: p.currency });
    }
  };
  count("started", payments.filter((p) => on(p.created_at)));
  const settled = payments.filter((p) =>
    on(p.settled_at) && ["paid", "cancelled", "failed", "expired"].includes(p.status)
  );
  for (const outcome of ["paid", "cancelled", "failed", "expired"]) {
    count(outcome, settled.filter((p) => p.status === outcome));
  }
  const paid = settled.filter((p) => p.status === "paid");
  if (settled.length > 0) set("payments.success_rate", paid.length / settled.length);
  const median = percentileCont(
    paid.map((p) => (p.settled_at.getTime() - p.created_at.getTime()) / 1000),
    0.5,
  );
  if (median !== null) set("payments.median_seconds_to_pay", median);

  const dead = (await sql`select job, first_seen from job_failures`)
    .filter((j) => on(j.first_seen));
  set("jobs.dead_lettered", dead.length);
  for (const j of dead) add("jobs.dead_lettered", 1, { job: j.job });

  const webhooks = (await sql`select provider, status, error, received_at
                               from whatsapp_webhook_log`)
    .filter((w) => on(w.received_at) && (w.status >= 400 || w.error !== null));
  set("webhooks.errors", webhooks.length);
  for (const w of webhooks) add("webhooks.errors", 1, { provider: w.provider });

  // Grievances (lib/grievances/stats.ts): the data here has none, so the totals are zeros.
  const grievances = await sql`select created_at, status, channel, resolved_at
                                from grievances`;
  set("grievances.new", grievances.filter((g) => on(g.created_at)).length);
  set(
    "grievances.resolved",
    grievances.filter((g) => g.status === "resolved" && on(g.resolved_at)).length,
  );
  return out;
}

function assertSameFigures(actual: Map<string, number>, expected: Map<string, number>) {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
  for (const [key, value] of expected) {
    // Stored values are rounded (3 decimals for times, 6 for rates).
    assert.ok(
      Math.abs(actual.get(key)! - value) < 1e-3,
      `${key}: computed ${actual.get(key)}, expected ${value}`,
    );
  }
}

const asMap = (rows: { metric: string; dims: string; value: string | number }[]) =>
  new Map(rows.map((r) => [`${r.metric}|${r.dims}`, Number(r.value)]));

const snapshot = (sql: Sql) =>
  sql`select day::text, metric, dims, value::text, computed_at, xmin::text as version
      from daily_metrics order by day, metric, dims`;

Deno.test("each day's figures equal an independent count over the raw rows, midnight included", async () => {
  await using app = await startTestApp();
  const sql = app.server.db.sql;
  // A day before and after the measured ones, which must not leak in.
  await generate(sql, "2026-03-07T22:00:00Z", "2026-03-12T22:00:00Z");
  let nonZero = 0;
  for (const day of DAYS) {
    const expected = await expectedFigures(sql, day);
    const computed = asMap(await computeDay(sql, day, TZ));
    assertSameFigures(computed, expected);
    nonZero += [...computed.values()].filter((v) => v !== 0).length;
  }
  // The data set exercises the figures (a broken generator would pass with all zeros).
  assert.ok(nonZero > 100, `${nonZero} non-zero figures`);
  const edge = await computeDay(sql, "2026-03-10", TZ);
  assert.ok(edge.some((r) => r.metric === "payments.success_rate"));
  assert.ok(edge.some((r) => r.metric === "users.active" && r.dims === "channel=whatsapp"));

  // The same day in another time zone is another set of rows.
  const utc = asMap(await computeDay(sql, "2026-03-10", "UTC"));
  const harare = asMap(edge);
  assert.notDeepEqual(utc, harare);
});

Deno.test("storing a day again changes nothing; a key that no longer occurs is removed", async () => {
  await using app = await startTestApp();
  const sql = app.server.db.sql;
  await generate(sql, "2026-03-08T22:00:00Z", "2026-03-11T22:00:00Z", 7);
  for (const day of DAYS) {
    const first = await recordDay(sql, day, TZ);
    assert.equal(first.changed, first.rows.length, "the first run writes every figure");
  }
  const before = await snapshot(sql);
  assert.ok(before.length > 50);
  for (const day of DAYS) assert.equal((await recordDay(sql, day, TZ)).changed, 0);
  assert.deepEqual(await snapshot(sql), before, "no row was rewritten");

  // The stored figures are what computeDay says.
  const stored = await sql`select metric, dims, value from daily_metrics
                           where day = '2026-03-10'`;
  assert.deepEqual(asMap(stored as never), asMap(await computeDay(sql, "2026-03-10", TZ)));

  // The WhatsApp messages of 03-10 are deleted: its per-channel rows go, its totals change.
  await sql`delete from messages where channel = 'whatsapp'
              and created_at >= '2026-03-09T22:00:00Z' and created_at < '2026-03-10T22:00:00Z'`;
  const rerun = await recordDay(sql, "2026-03-10", TZ);
  assert.ok(rerun.changed > 0);
  const keys = (await sql`select metric, dims from daily_metrics where day = '2026-03-10'`)
    .map((r) => `${r.metric}|${r.dims}`);
  assert.ok(!keys.some((k) => k.includes("channel=whatsapp")), keys.join("\n"));
  assert.ok(keys.includes("messages.in|"));
  // Other days are untouched.
  const others = (await snapshot(sql)).filter((r) => r.day !== "2026-03-10");
  assert.deepEqual(others, before.filter((r) => r.day !== "2026-03-10"));
});

Deno.test("an empty day stores its totals as zero", async () => {
  await using app = await startTestApp();
  const sql = app.server.db.sql;
  const rows = await computeDay(sql, "2026-01-01", TZ);
  assert.ok(rows.length > 10);
  assert.ok(rows.every((r) => r.dims === "" && Number(r.value) === 0), JSON.stringify(rows));
  assert.ok(!rows.some((r) => r.metric === "payments.success_rate"), "no rate without payments");
  assert.equal(await storeDay(sql, "2026-01-01", rows), rows.length);
  assert.equal(await storeDay(sql, "2026-01-01", rows), 0);
  await assert.rejects(storeDay(sql, "2026-02-30", rows), /not a day/);
});

Deno.test("two instances: the 00:10 tick records yesterday once, and days missed before it", async () => {
  await using t = await twoSchedulers([metricsDailyCron], TZ);
  const { a, b } = t;
  const sql = a.server.db.sql;
  await generate(sql, "2026-03-08T22:00:00Z", "2026-03-11T22:00:00Z");
  // 03-09 was recorded by an earlier tick; 03-03..03-08 and 03-10 were missed.
  await recordDay(sql, "2026-03-09", TZ);
  const recorded09 = await sql`select * from daily_metrics where day = '2026-03-09'`;
  // 00:10 on 03-12 in Harare is 22:10 UTC on 03-11: yesterday is 03-11.
  const at = new Date("2026-03-11T22:10:00.003Z");
  assert.ok(a.server.scheduler.due(at).some((c) => c.name === "metrics.daily"));
  const outcomes = await Promise.all([a.server.scheduler.tick(at), b.tick(at)]);
  assert.deepEqual(outcomes.map((o) => o["metrics.daily"]).sort(), [
    "claimed-elsewhere",
    "ran",
  ]);
  const days = await sql`select day::text, count(*)::int as n from daily_metrics
                         group by day order by day`;
  assert.deepEqual(days.map((d) => d.day), daysFrom("2026-03-04", "2026-03-11"));
  const runs = await sql`select status from cron_runs where name = 'metrics.daily'`;
  assert.deepEqual(runs.map((r) => r.status), ["ok"]);
  const written = a.logs.filter((l) => l.includes('"msg":"daily metrics recorded"'));
  assert.equal(written.filter((l) => l.includes('"day":"2026-03-11"')).length, 1);
  assert.equal(written.filter((l) => l.includes('"day":"2026-03-09"')).length, 0);
  assert.deepEqual(
    await sql`select * from daily_metrics where day = '2026-03-09'`,
    recorded09,
  );
  const expected = await expectedFigures(sql, "2026-03-11");
  const stored = await sql`select metric, dims, value from daily_metrics
                           where day = '2026-03-11'`;
  assertSameFigures(asMap(stored as never), expected);
  // Other minutes of the day are not its schedule.
  assert.ok(
    !a.server.scheduler.due(new Date("2026-03-11T22:11:00Z")).some((c) =>
      c.name === "metrics.daily"
    ),
  );
});

Deno.test("the schedule's arguments: a range by hand, refused when malformed", () => {
  const parse = (flags: Record<string, string>) => metricsDailyCron.args!.safeParse(flags);
  assert.ok(parse({}).success);
  assert.ok(parse({ from: "2026-01-01", to: "2026-01-31" }).success);
  assert.ok(parse({ from: "2026-01-01" }).success);
  assert.ok(!parse({ from: "2026-01-31", to: "2026-01-01" }).success);
  assert.ok(!parse({ to: "2026-01-31" }).success);
  assert.ok(!parse({ from: "2026-02-30" }).success);
  assert.ok(!parse({ from: "yesterday" }).success);
  assert.ok(!parse({ form: "2026-01-01" }).success, "an unknown flag is refused");
});

Deno.test({
  name: "`deno task job metrics:daily --from --to` backfills the range from the command line",
  async fn() {
    const storage = await prepareStorage();
    try {
      const db = await storage.openDatabase();
      try {
        await generate(db.sql, "2026-03-08T22:00:00Z", "2026-03-11T22:00:00Z");
      } finally {
        await db.close();
      }
      const env = { ...storage.env, HURUKURO_ENV: "test", TZ_METRICS: TZ };
      const run = await denoCommand(
        [
          "run",
          "-A",
          "tasks/job.ts",
          "metrics:daily",
          "--from",
          "2026-03-09",
          "--to",
          "2026-03-11",
        ],
        env,
      ).output();
      const out = new TextDecoder().decode(run.stdout);
      assert.equal(run.code, 0, out + new TextDecoder().decode(run.stderr));
      assert.match(out, /metrics:daily done in \d+ ms/);
      assert.match(out, /"msg":"daily metrics range recorded".*"days":3/);

      const bad = await denoCommand(
        [
          "run",
          "-A",
          "tasks/job.ts",
          "metrics:daily",
          "--from",
          "2026-03-11",
          "--to",
          "2026-03-09",
        ],
        env,
      ).output();
      assert.equal(bad.code, 2);
      assert.match(new TextDecoder().decode(bad.stderr), /--from must not be after --to/);

      const check = await storage.openDatabase();
      try {
        const days = await check.sql`select distinct day::text from daily_metrics order by 1`;
        assert.deepEqual(days.map((d) => d.day), DAYS);
        for (const day of DAYS) {
          const stored = await check.sql`select metric, dims, value from daily_metrics
                                         where day = ${day}`;
          assertSameFigures(asMap(stored as never), await expectedFigures(check.sql, day));
        }
      } finally {
        await check.close();
      }
    } finally {
      await storage.cleanup();
    }
  },
});
