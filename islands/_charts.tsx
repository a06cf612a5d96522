/**
 * What the chart islands share: chart.js, registered once, the options of a daily line or bar
 * chart, the figure around each canvas, the hook that draws, redraws and destroys the charts,
 * and the switch between the periods they show. Imported by islands only, so chart.js lands in their chunks and nowhere else. Charts
 * draw on canvas without animation, and chart.js injects no stylesheet, so the page's strict CSP
 * (no inline script or style) holds.
 */
import { useEffect, useRef } from "preact/hooks";
import * as chartjs from "chart.js";
import type { ChartConfiguration } from "chart.js";

const { Chart } = chartjs;
type Chart = chartjs.Chart;

// Only what these charts draw, so the rest of chart.js stays out of the bundle.
Chart.register(
  chartjs.BarController,
  chartjs.BarElement,
  chartjs.CategoryScale,
  chartjs.Legend,
  chartjs.LinearScale,
  chartjs.LineController,
  chartjs.LineElement,
  chartjs.PointElement,
  chartjs.Tooltip,
);

export type { ChartConfiguration };

/** One chart of an island: `key` names its canvas (`data-chart`). */
export interface ChartDef {
  key: string;
  title: string;
}

/** A daily line or bar chart of an island, with the lines it draws (each island's own kind). */
export interface DailyChartDef<L> extends ChartDef {
  type: "line" | "bar";
  lines: L[];
}

export function chart<L>(
  key: string,
  title: string,
  type: DailyChartDef<L>["type"],
  lines: L[],
): DailyChartDef<L> {
  return { key, title, type, lines };
}

/** One line (or set of bars) of a daily chart. */
export interface DailyLine {
  label: string;
  color: string;
  data: (number | null)[];
  /** The right-hand axis instead of the left one. */
  axis?: "y1";
}

export interface DailyChartOptions {
  type: "line" | "bar";
  /** `YYYY-MM-DD` per point (the axis shows `MM-DD`), or a word such as "today". */
  days: string[];
  lines: DailyLine[];
  /** Points are drawn only up to this many days; past it, the line alone. */
  pointsUpTo: number;
  /** The tooltip shows every line of the hovered day, and gaps are bridged. */
  hoverDay?: boolean;
}

/** The options of a daily line or bar chart: no animation, legend below, zero-based axes. */
export function dailyChart(o: DailyChartOptions): ChartConfiguration {
  const twoAxes = o.lines.some((l) => l.axis === "y1");
  return {
    type: o.type,
    data: {
      labels: o.days.map((day) => /^\d{4}-/.test(day) ? day.slice(5) : day),
      datasets: o.lines.map((l) => ({
        label: l.label,
        data: l.data,
        borderColor: l.color,
        backgroundColor: l.color,
        borderWidth: 2,
        pointRadius: o.days.length > o.pointsUpTo ? 0 : 2,
        ...(o.hoverDay ? { spanGaps: true, yAxisID: l.axis ?? "y" } : {}),
      })),
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      ...(o.hoverDay ? { interaction: { mode: "index", intersect: false } } : {}),
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      scales: {
        x: { ticks: { maxTicksLimit: 8, maxRotation: 0 } },
        y: { beginAtZero: true },
        ...(twoAxes
          ? { y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } } }
          : {}),
      },
    },
  } as ChartConfiguration;
}

/**
 * Draws each chart of `defs` on its canvas with `configOf(def)`, and again (in place) whenever
 * `data` changes; destroys them when the island goes. Returns the canvases' ref callbacks.
 */
export function useCharts<D extends ChartDef>(
  defs: D[],
  data: unknown,
  configOf: (def: D) => ChartConfiguration,
  drawn: () => void,
): (key: string) => (el: HTMLCanvasElement | null) => void {
  const canvases = useRef<Record<string, HTMLCanvasElement | null>>({});
  const charts = useRef<Record<string, Chart>>({});
  useEffect(() => {
    for (const def of defs) {
      const canvas = canvases.current[def.key];
      if (!canvas) continue;
      const next = configOf(def);
      const chart = charts.current[def.key];
      if (chart) {
        chart.data = next.data;
        chart.options = next.options!;
        chart.update();
      } else {
        charts.current[def.key] = new Chart(canvas, next);
      }
    }
    drawn();
  }, [data]);
  useEffect(() => () => {
    for (const chart of Object.values(charts.current)) chart.destroy();
  }, []);
  return (key) => (el) => {
    canvases.current[key] = el;
  };
}

/** A chart's figure: its title and its canvas. */
export function ChartFigure(
  { def, label, canvas }: {
    def: ChartDef;
    label: string;
    canvas: (el: HTMLCanvasElement | null) => void;
  },
) {
  return (
    <figure class="chart">
      <figcaption>{def.title}</figcaption>
      <div class="chart-box">
        <canvas ref={canvas} data-chart={def.key} role="img" aria-label={label} />
      </div>
    </figure>
  );
}

/** The buttons that switch the period of a page's figures, and the dates the figures cover. */
export function RangeSwitch(props: {
  ranges: number[];
  current: number;
  from: string;
  to: string;
  disabled?: boolean;
  onChoose: (range: number) => void;
}) {
  return (
    <div class="range-switch" role="group" aria-label="Period">
      {props.ranges.map((r) => (
        <button
          type="button"
          aria-pressed={r === props.current}
          disabled={props.disabled}
          onClick={() => props.onChoose(r)}
        >
          {r} days
        </button>
      ))}
      <span class="muted">{props.from} to {props.to}</span>
    </div>
  );
}
