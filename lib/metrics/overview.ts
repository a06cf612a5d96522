/**
 * What the admin overview shows from `daily_metrics`: a few series over the last N complete
 * days (to yesterday) for the charts, and headline figures (KPIs) over the same period with the
 * period before it for comparison. One indexed read of 2·N days per call.
 */
import type { Sql } from "../db/mod.ts";
import { type MetricRow, readFigures } from "./daily.ts";
import { addDays, daysFrom } from "./days.ts";

/** The ranges the overview offers, in days. */
export const RANGES = [30, 90, 365] as const;
export type Range = (typeof RANGES)[number];

export const isRange = (n: number): n is Range => (RANGES as readonly number[]).includes(n);

/** Series by the name the charts use → the stored metric and dimension key. */
export const SERIES = {
  usersNew: { metric: "users.new", dims: "" },
  usersActive: { metric: "users.active", dims: "" },
  usersActiveWeb: { metric: "users.active", dims: "channel=web" },
  usersActiveWhatsapp: { metric: "users.active", dims: "channel=whatsapp" },
  messagesIn: { metric: "messages.in", dims: "" },
  messagesOut: { metric: "messages.out", dims: "" },
  paymentsStarted: { metric: "payments.started", dims: "" },
  paymentsPaid: { metric: "payments.paid", dims: "" },
  paymentsCancelled: { metric: "payments.cancelled", dims: "" },
  paymentsFailed: { metric: "payments.failed", dims: "" },
  paymentsExpired: { metric: "payments.expired", dims: "" },
  revenueUsd: { metric: "payments.paid_amount", dims: "currency=USD" },
  revenueZig: { metric: "payments.paid_amount", dims: "currency=ZiG" },
  tokensSold: { metric: "wallet.tokens_sold", dims: "" },
  tokensUsed: { metric: "wallet.tokens_used", dims: "" },
  latencyP95: { metric: "ai.latency_p95_ms", dims: "" },
  ttftP95: { metric: "ai.ttft_p95_ms", dims: "" },
  deadLettered: { metric: "jobs.dead_lettered", dims: "" },
  webhookErrors: { metric: "webhooks.errors", dims: "" },
} as const;

export type SeriesName = keyof typeof SERIES;

export interface Kpi {
  key: string;
  label: string;
  format: "count" | "money" | "percent" | "ms";
  /** For money: the currency. */
  unit?: string;
  value: number | null;
  previous: number | null;
  /** Relative change against the previous period (0.25 = +25 %); null when not comparable. */
  change: number | null;
  /** Whether a rise is good news (dead letters are not). */
  higherIsBetter: boolean;
}

export interface OverviewData {
  range: Range;
  from: string;
  to: string;
  days: string[];
  /** One value per day; a day without a stored figure is 0 (or null for latencies). */
  series: Record<SeriesName, (number | null)[]>;
  kpis: Kpi[];
  /** Today so far (live figures, not yet in `daily_metrics`), drawn after the complete days. */
  today: { day: string; values: Record<SeriesName, number | null> } | null;
  /** Whether any figure exists at all: a fresh install says so rather than drawing empty axes. */
  hasData: boolean;
}

const sum = (xs: (number | null)[]) => xs.reduce<number>((s, x) => s + (x ?? 0), 0);
const mean = (xs: (number | null)[]) => {
  const known = xs.filter((x): x is number => x !== null);
  return known.length ? sum(known) / known.length : null;
};

/** The overview over the `range` days ending with `yesterday`, and the period before it. */
export async function overview(
  sql: Sql,
  options: { range: Range; yesterday: string; today?: { day: string; rows: MetricRow[] } },
): Promise<OverviewData> {
  const to = options.yesterday;
  const from = addDays(to, -(options.range - 1));
  const previousFrom = addDays(from, -options.range);
  const names = Object.keys(SERIES) as SeriesName[];
  const figures = await readFigures(sql, {
    from: previousFrom,
    to,
    series: names.map((n) => SERIES[n]),
  });
  const allDays = daysFrom(previousFrom, to);
  const index = new Map(allDays.map((d, i) => [d, i]));
  const nullable = new Set<SeriesName>(["latencyP95", "ttftP95"]);
  const full = {} as Record<SeriesName, (number | null)[]>;
  const byKey = new Map(names.map((n) => [`${SERIES[n].metric}|${SERIES[n].dims}`, n]));
  for (const n of names) full[n] = allDays.map(() => nullable.has(n) ? null : 0);
  for (const f of figures) {
    const name = byKey.get(`${f.metric}|${f.dims}`);
    const i = index.get(f.day);
    if (name && i !== undefined) full[name][i] = f.value;
  }
  const current = {} as Record<SeriesName, (number | null)[]>;
  const previous = {} as Record<SeriesName, (number | null)[]>;
  for (const n of names) {
    previous[n] = full[n].slice(0, options.range);
    current[n] = full[n].slice(options.range);
  }

  const successRate = (s: typeof current) => {
    const paid = sum(s.paymentsPaid);
    const settled = paid + sum(s.paymentsCancelled) + sum(s.paymentsFailed) +
      sum(s.paymentsExpired);
    return settled > 0 ? paid / settled : null;
  };
  const kpi = (
    key: string,
    label: string,
    format: Kpi["format"],
    of: (s: typeof current) => number | null,
    extra: { unit?: string; higherIsBetter?: boolean } = {},
  ): Kpi => {
    const value = of(current);
    const before = of(previous);
    return {
      key,
      label,
      format,
      unit: extra.unit,
      value,
      previous: before,
      change: value !== null && before !== null && before !== 0 ? (value - before) / before : null,
      higherIsBetter: extra.higherIsBetter ?? true,
    };
  };
  const kpis = [
    kpi("usersNew", "New users", "count", (s) => sum(s.usersNew)),
    kpi("usersActive", "Active users a day (mean)", "count", (s) => mean(s.usersActive)),
    kpi("messages", "Messages", "count", (s) => sum(s.messagesIn) + sum(s.messagesOut)),
    kpi("revenueUsd", "Revenue", "money", (s) => sum(s.revenueUsd), { unit: "USD" }),
    kpi("revenueZig", "Revenue", "money", (s) => sum(s.revenueZig), { unit: "ZiG" }),
    kpi("successRate", "Payment success", "percent", successRate),
    kpi("tokensSold", "Tokens sold", "count", (s) => sum(s.tokensSold)),
    kpi("tokensUsed", "Tokens used", "count", (s) => sum(s.tokensUsed)),
    kpi("latencyP95", "AI latency p95 (mean of days)", "ms", (s) => mean(s.latencyP95), {
      higherIsBetter: false,
    }),
    kpi("deadLettered", "Dead-lettered jobs", "count", (s) => sum(s.deadLettered), {
      higherIsBetter: false,
    }),
    kpi("webhookErrors", "Webhook errors", "count", (s) => sum(s.webhookErrors), {
      higherIsBetter: false,
    }),
  ];
  let today: OverviewData["today"] = null;
  if (options.today) {
    const values = {} as Record<SeriesName, number | null>;
    for (const n of names) {
      const row = options.today.rows.find((r) =>
        r.metric === SERIES[n].metric && r.dims === SERIES[n].dims
      );
      values[n] = row ? Number(row.value) : nullable.has(n) ? null : 0;
    }
    today = { day: options.today.day, values };
  }
  const hasData = figures.some((f) => f.value !== 0) ||
    (today !== null && Object.values(today.values).some((v) => v !== null && v !== 0));
  return {
    range: options.range,
    from,
    to,
    days: daysFrom(from, to),
    series: current,
    kpis,
    today,
    hasData,
  };
}
