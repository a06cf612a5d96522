/**
 * The admin overview's trends: headline figures with their change against the previous period,
 * and chart.js charts of the daily figures. The range (30/90/365 days) switches in place: the
 * island fetches `/admin/api/metrics?range=…` and redraws, without reloading the page.
 *
 * The charts are drawn with islands/_charts.tsx.
 */
import { useState } from "preact/hooks";
import type { Kpi, OverviewData, SeriesName } from "../lib/metrics/overview.ts";
import {
  chart,
  ChartFigure,
  dailyChart,
  type DailyChartDef,
  RangeSwitch,
  useCharts,
} from "./_charts.tsx";
import { formatCount, formatMoney, LOCALE } from "../lib/format.ts";

export interface MetricsChartProps {
  initial: OverviewData;
  ranges: number[];
}

type Values = (number | null)[];

interface Line {
  label: string;
  color: string;
  values: (d: OverviewData) => Values;
  axis?: "y1";
}

const GREEN = "#0b7a53";
const BLUE = "#2f6fdb";
const AMBER = "#b26b00";

const sumOf = (d: OverviewData, names: SeriesName[]) =>
  d.days.map((_, i) => names.reduce((s, n) => s + (d.series[n][i] ?? 0), 0));

/** A line of one series, or of the sum of several. */
const line = (
  label: string,
  color: string,
  names: SeriesName | SeriesName[],
  axis?: "y1",
): Line => ({
  label,
  color,
  values: typeof names === "string" ? (d) => d.series[names] : (d) => sumOf(d, names),
  ...(axis ? { axis } : {}),
});

const CHARTS: DailyChartDef<Line>[] = [
  chart("users", "Users", "line", [
    line("New", GREEN, "usersNew"),
    line("Active", BLUE, "usersActive"),
    line("Active on WhatsApp", "#25a244", "usersActiveWhatsapp"),
  ]),
  chart("messages", "Messages", "bar", [
    line("In", BLUE, "messagesIn"),
    line("Out", "#9bb8ef", "messagesOut"),
  ]),
  chart("payments", "Payments", "bar", [
    line("Started", "#c9c9c2", "paymentsStarted"),
    line("Paid", GREEN, "paymentsPaid"),
    line("Not paid", "#b42318", ["paymentsCancelled", "paymentsFailed", "paymentsExpired"]),
  ]),
  chart("revenue", "Revenue", "line", [
    line("USD", GREEN, "revenueUsd"),
    line("ZiG (right axis)", AMBER, "revenueZig", "y1"),
  ]),
  chart("tokens", "Wallet tokens", "line", [
    line("Sold", GREEN, "tokensSold"),
    line("Used", "#7a3fd1", "tokensUsed"),
  ]),
  chart("latency", "AI latency p95 (ms)", "line", [
    line("Full answer", AMBER, "latencyP95"),
    line("First token", BLUE, "ttftP95"),
  ]),
];

/** Today so far as a one-day overview, so each line computes its value the same way. */
const todayOnly = (d: OverviewData): OverviewData => ({
  ...d,
  days: d.today ? [d.today.day] : [],
  series: Object.fromEntries(
    Object.entries(d.today?.values ?? {}).map(([k, v]) => [k, [v]]),
  ) as OverviewData["series"],
});

const config = (def: DailyChartDef<Line>, d: OverviewData) =>
  dailyChart({
    type: def.type,
    days: [...d.days, ...(d.today ? ["today"] : [])],
    lines: def.lines.map((l) => ({
      label: l.label,
      color: l.color,
      data: [...l.values(d), ...(d.today ? l.values(todayOnly(d)) : [])],
      axis: l.axis,
    })),
    pointsUpTo: 90,
    hoverDay: true,
  });

const oneDecimal = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 1 });

function formatValue(k: Kpi, v: number | null): string {
  if (v === null) return "—";
  switch (k.format) {
    case "money":
      return formatMoney(k.unit ?? "", v);
    case "percent":
      return `${(v * 100).toFixed(1)} %`;
    case "ms":
      return `${formatCount(Math.round(v))} ms`;
    default:
      return Math.round(v * 10) / 10 === Math.round(v)
        ? formatCount(Math.round(v))
        : oneDecimal.format(v);
  }
}

function Change({ k }: { k: Kpi }) {
  if (k.change === null) return <small class="change">no earlier figure</small>;
  const up = k.change > 0;
  const good = k.change === 0 ? "" : up === k.higherIsBetter ? "good" : "bad";
  const pct = Math.abs(k.change * 100);
  return (
    <small class={`change ${good}`}>
      {k.change === 0 ? "±" : up ? "▲" : "▼"} {pct >= 10 ? pct.toFixed(0) : pct.toFixed(1)} %{" "}
      vs previous
    </small>
  );
}

export default function MetricsChart({ initial, ranges }: MetricsChartProps) {
  const [data, setData] = useState(initial);
  const [loading, setLoading] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [drawn, setDrawn] = useState<number | null>(null);
  const canvas = useCharts(CHARTS, data, (def) => config(def, data), () => setDrawn(data.range));

  async function choose(range: number) {
    if (range === data.range || loading) return;
    setLoading(true);
    setProblem(null);
    try {
      const res = await fetch(`/admin/api/metrics?range=${range}`, {
        headers: { accept: "application/json" },
      });
      if (!res.ok) throw new Error(`status ${res.status}`);
      setData(await res.json());
      const url = new URL(location.href);
      url.searchParams.set("range", String(range));
      history.replaceState(null, "", url);
    } catch {
      setProblem("The figures could not be loaded. Try again.");
    } finally {
      setLoading(false);
    }
  }

  return (
    <div class="metrics" data-range={data.range} data-drawn={drawn ?? undefined}>
      <RangeSwitch
        ranges={ranges}
        current={data.range}
        from={data.from}
        to={data.to}
        disabled={loading}
        onChoose={choose}
      />
      {problem && <p class="form-error" role="alert">{problem}</p>}
      <div class="kpis">
        {data.kpis.map((k) => (
          <div class="kpi" data-kpi={k.key}>
            <span class="kpi-label">{k.label}</span>
            <strong>{formatValue(k, k.value)}</strong>
            <Change k={k} />
          </div>
        ))}
      </div>
      {!data.hasData && (
        <p class="muted" data-testid="no-data">
          No data yet: the charts fill in as people sign up, chat and pay. Figures for a day are
          recorded after it ends; today so far is counted live.
        </p>
      )}
      <div class="charts" hidden={!data.hasData}>
        {CHARTS.map((def) => (
          <ChartFigure
            key={def.key}
            def={def}
            label={`${def.title}, last ${data.range} days and today so far`}
            canvas={canvas(def.key)}
          />
        ))}
      </div>
    </div>
  );
}
