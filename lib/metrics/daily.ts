/**
 * The daily figures of the admin dashboard: one day's activity computed from the raw tables and
 * kept in `daily_metrics` (one row per day, metric and dimension key).
 *
 * - A day is a calendar day in TZ_METRICS (`config.tzMetrics`, Africa/Harare by default): its
 *   bounds are computed once, and every figure is a range scan on an indexed timestamp
 *   (`users.created_at`, `messages.created_at`, `ledger_entries.created_at`,
 *   `payments.created_at` / `settled_at`, `job_failures.first_seen`,
 *   `whatsapp_webhook_log.received_at`), so the cost follows the
 *   day's rows, not the table's size.
 * - Storing is an upsert that only touches rows whose value changed and removes keys that no
 *   longer occur: computing a day twice leaves the table exactly as the first time.
 * - Events are counted on the day they happened: a payment is `started` on the day it was
 *   created and `paid`/`cancelled`/`failed`/`expired` on the day it settled.
 *
 * Totals (dims `''`) are always written, as 0 when nothing happened; rows per dimension only
 * when something did (a chart reads a missing row as 0).
 *
 * A webhook error is a delivery we answered with a 4xx/5xx (a bad signature, an oversized body)
 * or one that was accepted but could not be read (`error` set: malformed or unknown shape).
 */
import type { Sql } from "../db/mod.ts";
import { addDays, dayIn, isDay } from "./days.ts";
import { grievanceFigures } from "../grievances/stats.ts";
import { FINAL_STATUSES } from "../payments/vocabulary.ts";

export interface MetricRow {
  metric: string;
  /** `''` for the total, else sorted `key=value` pairs joined by commas. */
  dims: string;
  /** Decimal string (exact for money and big counts). */
  value: string;
}

/** The dimension key: `{ mode: "chat", channel: "web" }` → `channel=web,mode=chat`. */
export function dimsKey(dims: Record<string, string> = {}): string {
  return Object.keys(dims).sort().map((k) => `${k}=${dims[k]}`).join(",");
}

/** How a settled payment ended: every final status. */
export const PAYMENT_OUTCOMES = FINAL_STATUSES;

/** The instants a day starts and ends in `timeZone` (as Postgres computes them). */
export async function dayBounds(
  sql: Sql,
  day: string,
  timeZone: string,
): Promise<{ start: Date; end: Date }> {
  if (!isDay(day)) throw new Error(`not a day: ${day} (expected YYYY-MM-DD)`);
  const [row] = await sql`
    select (${day}::date::timestamp at time zone ${timeZone}) as start,
           ((${day}::date + 1)::timestamp at time zone ${timeZone}) as end`;
  return { start: row.start, end: row.end };
}

const str = (v: unknown) => v === null || v === undefined ? "0" : String(v);

/** Payments of one currency and method: how many, and their sum (a numeric, as text). */
interface PaymentGroup {
  currency: string;
  method: string;
  n: number;
  amount: string;
}

/** The day's AI usage: bigints and rounded numerics arrive as text. */
interface AiFigures {
  tokens_in: string;
  tokens_out: string;
  cost: string;
  latency_p95: string | null;
  ttft_p95: string | null;
}

/**
 * One day's figures, computed from the raw tables (nothing is written). For the current day it
 * gives the figures so far.
 */
export async function computeDay(sql: Sql, day: string, timeZone: string): Promise<MetricRow[]> {
  const { start, end } = await dayBounds(sql, day, timeZone);
  const rows: MetricRow[] = [];
  const add = (metric: string, value: unknown, dims: Record<string, string> = {}) =>
    rows.push({ metric, dims: dimsKey(dims), value: str(value) });

  const [
    [users],
    messages,
    active,
    [ai],
    ledger,
    started,
    settled,
    [timing],
    dead,
    webhookErrors,
  ] = await Promise.all([
    sql<{ n: number }[]>`
      select count(*)::int as n from users where created_at >= ${start} and created_at < ${end}`,
    sql<{ channel: string; mode: string; role: string; n: number }[]>`
        select channel, mode, role, count(*)::int as n from messages
        where created_at >= ${start} and created_at < ${end}
        group by channel, mode, role order by channel, mode, role`,
    sql<{ channel: string | null; n: number }[]>`
        select channel, count(distinct user_id)::int as n from messages
        where created_at >= ${start} and created_at < ${end} and role = 'user'
        group by grouping sets ((channel), ()) order by channel nulls first`,
    sql<AiFigures[]>`select coalesce(sum(tokens_in), 0)::bigint as tokens_in,
               coalesce(sum(tokens_out), 0)::bigint as tokens_out,
               coalesce(sum(cost), 0)::bigint as cost,
               round((percentile_cont(0.95) within group (order by latency_ms))::numeric, 3)
                 as latency_p95,
               round((percentile_cont(0.95) within group (order by ttft_ms))::numeric, 3)
                 as ttft_p95
        from messages
        where created_at >= ${start} and created_at < ${end} and role = 'assistant'`,
    sql<
      { kind: string; tokens: string }[]
    >`select kind, sum(amount)::bigint as tokens from ledger_entries
        where created_at >= ${start} and created_at < ${end}
          and kind in ('purchase_credit', 'usage_debit')
        group by kind`,
    sql<PaymentGroup[]>`
        select currency, method, count(*)::int as n, sum(amount) as amount from payments
        where created_at >= ${start} and created_at < ${end}
        group by currency, method order by currency, method`,
    sql<(PaymentGroup & { status: string })[]>`
        select status, currency, method, count(*)::int as n, sum(amount) as amount from payments
        where settled_at >= ${start} and settled_at < ${end}
          and status in ('paid', 'cancelled', 'failed', 'expired')
        group by status, currency, method order by status, currency, method`,
    sql<{ median_seconds: string | null }[]>`select round((percentile_cont(0.5) within group
                       (order by extract(epoch from settled_at - created_at)))::numeric, 3)
                 as median_seconds
        from payments
        where settled_at >= ${start} and settled_at < ${end} and status = 'paid'`,
    sql<{ job: string; n: number }[]>`select job, count(*)::int as n from job_failures
        where first_seen >= ${start} and first_seen < ${end}
        group by job order by job`,
    sql<{ provider: string; n: number }[]>`
        select provider, count(*)::int as n from whatsapp_webhook_log
        where received_at >= ${start} and received_at < ${end}
          and (status >= 400 or error is not null)
        group by provider order by provider`,
  ]);

  add("users.new", users.n);

  for (const row of active) {
    add("users.active", row.n, row.channel === null ? {} : { channel: row.channel });
  }
  if (!active.some((r) => r.channel === null)) add("users.active", 0);

  for (const [metric, role] of [["messages.in", "user"], ["messages.out", "assistant"]]) {
    const mine = messages.filter((m) => m.role === role);
    add(metric, mine.reduce((s, m) => s + m.n, 0));
    const byChannel = new Map<string, number>();
    for (const m of mine) byChannel.set(m.channel, (byChannel.get(m.channel) ?? 0) + m.n);
    for (const [channel, n] of byChannel) add(metric, n, { channel });
    for (const m of mine) add(metric, m.n, { channel: m.channel, mode: m.mode });
  }

  add("ai.tokens_in", ai.tokens_in);
  add("ai.tokens_out", ai.tokens_out);
  add("ai.cost", ai.cost);
  if (ai.latency_p95 !== null) add("ai.latency_p95_ms", ai.latency_p95);
  if (ai.ttft_p95 !== null) add("ai.ttft_p95_ms", ai.ttft_p95);

  add("wallet.tokens_sold", ledger.find((r) => r.kind === "purchase_credit")?.tokens);
  add("wallet.tokens_used", ledger.find((r) => r.kind === "usage_debit")?.tokens);

  // Payments: counts in all and per currency and method; amounts per currency (never summed
  // across currencies) and per currency and method.
  const payments = (metric: string, groups: PaymentGroup[]) => {
    add(`payments.${metric}`, groups.reduce((s, g) => s + g.n, 0));
    const perCurrency = new Map<string, number>();
    for (const g of groups) {
      add(`payments.${metric}`, g.n, { currency: g.currency, method: g.method });
      add(`payments.${metric}_amount`, g.amount, { currency: g.currency, method: g.method });
      // Cents as integers: no floating-point drift in the sums.
      perCurrency.set(
        g.currency,
        (perCurrency.get(g.currency) ?? 0) + Math.round(Number(g.amount) * 100),
      );
    }
    for (const [currency, cents] of perCurrency) {
      add(`payments.${metric}_amount`, (cents / 100).toFixed(2), { currency });
    }
  };
  payments("started", started);
  for (const outcome of PAYMENT_OUTCOMES) {
    payments(outcome, settled.filter((s) => s.status === outcome));
  }
  const settledCount = settled.reduce((s, r) => s + r.n, 0);
  const paidCount = settled.filter((r) => r.status === "paid").reduce((s, r) => s + r.n, 0);
  if (settledCount > 0) add("payments.success_rate", (paidCount / settledCount).toFixed(6));
  if (timing.median_seconds !== null) {
    add("payments.median_seconds_to_pay", timing.median_seconds);
  }

  add("jobs.dead_lettered", dead.reduce((s, r) => s + r.n, 0));
  for (const r of dead) add("jobs.dead_lettered", r.n, { job: r.job });

  add("webhooks.errors", webhookErrors.reduce((s, r) => s + r.n, 0));
  for (const r of webhookErrors) add("webhooks.errors", r.n, { provider: r.provider });

  for (const f of await grievanceFigures(sql, start, end)) add(f.metric, f.value, f.dims);

  return rows;
}

/**
 * Writes one day's figures: rows whose value changed are updated, new keys inserted, keys that
 * no longer occur removed; unchanged rows are not touched. Returns how many rows changed.
 */
export async function storeDay(sql: Sql, day: string, rows: MetricRow[]): Promise<number> {
  if (!isDay(day)) throw new Error(`not a day: ${day} (expected YYYY-MM-DD)`);
  return await sql.begin(async (tx) => {
    let changed = 0;
    if (rows.length > 0) {
      const written = await tx`
        insert into daily_metrics (day, metric, dims, value)
        select ${day}::date, m, d, v::numeric
        from unnest(${rows.map((r) => r.metric)}::text[], ${rows.map((r) => r.dims)}::text[],
                    ${rows.map((r) => r.value)}::text[]) as t(m, d, v)
        on conflict (day, metric, dims) do update
          set value = excluded.value, computed_at = now()
          where daily_metrics.value is distinct from excluded.value
        returning 1`;
      changed += written.length;
    }
    const removed = await tx`
      delete from daily_metrics
      where day = ${day}::date
        and not exists (
          select 1 from unnest(${rows.map((r) => r.metric)}::text[],
                               ${rows.map((r) => r.dims)}::text[]) as k(metric, dims)
          where k.metric = daily_metrics.metric and k.dims = daily_metrics.dims)
      returning 1`;
    return changed + removed.length;
  });
}

/** Computes and stores one day; returns the figures and how many rows changed. */
export async function recordDay(
  sql: Sql,
  day: string,
  timeZone: string,
): Promise<{ rows: MetricRow[]; changed: number; ms: number }> {
  const started = performance.now();
  const rows = await computeDay(sql, day, timeZone);
  const changed = await storeDay(sql, day, rows);
  return { rows, changed, ms: performance.now() - started };
}

/** The day before the one `now` falls on, in `timeZone`. */
export function yesterday(now: Date, timeZone: string): string {
  return addDays(dayIn(now, timeZone), -1);
}

/** Of the given days, those with no figures stored (missed while no instance was running). */
export async function missingDays(sql: Sql, days: string[]): Promise<string[]> {
  if (days.length === 0) return [];
  const rows = await sql<{ day: string }[]>`
    select d::date::text as day from unnest(${days}::date[]) as d
    where not exists (select 1 from daily_metrics where day = d::date)
    order by 1`;
  return rows.map((r) => r.day);
}

export interface StoredFigure {
  day: string;
  metric: string;
  dims: string;
  value: number;
}

/** Stored figures of the given metrics over `from`..`to` (index on metric, dims, day). */
export async function readFigures(
  sql: Sql,
  options: { from: string; to: string; series: { metric: string; dims: string }[] },
): Promise<StoredFigure[]> {
  if (options.series.length === 0) return [];
  return await sql<StoredFigure[]>`
    select m.day::text as day, m.metric, m.dims, m.value::float8 as value
    from unnest(${options.series.map((s) => s.metric)}::text[],
                ${options.series.map((s) => s.dims)}::text[]) as s(metric, dims)
    join daily_metrics m on m.metric = s.metric and m.dims = s.dims
    where m.day between ${options.from}::date and ${options.to}::date
    order by m.day`;
}
