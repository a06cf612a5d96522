/**
 * The grievances dashboard's charts (routes/admin/grievance_settings.tsx): new grievances per
 * day stacked by category, and by the status they are in; resolved per day; the median hours to
 * the first answer and to resolution. chart.js on canvas, no animation and no injected style, so
 * the page's strict CSP holds.
 */
import { useState } from "preact/hooks";
import { type ChartConfiguration, ChartFigure, useCharts } from "./_charts.tsx";

export interface GrievanceChartProps {
  days: string[];
  categories: { name: string; values: (number | null)[] }[];
  statuses: { name: string; values: (number | null)[] }[];
  resolved: (number | null)[];
  firstResponse: (number | null)[];
  resolution: (number | null)[];
}

const COLORS = [
  "#2f6fdb",
  "#0b7a53",
  "#d9822b",
  "#b3261e",
  "#6b4fbb",
  "#25a244",
  "#9bb8ef",
  "#8a6d3b",
  "#5f6b7a",
];

type Def = { key: string; title: string; config: (p: GrievanceChartProps) => ChartConfiguration };

const stacked = (series: { name: string; values: (number | null)[] }[], days: string[]) => ({
  type: "bar" as const,
  data: {
    labels: days.map((d) => d.slice(5)),
    datasets: series.map((s, i) => ({
      label: s.name,
      data: s.values,
      backgroundColor: COLORS[i % COLORS.length],
    })),
  },
  options: {
    animation: false as const,
    maintainAspectRatio: false,
    scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } },
  },
});

const CHARTS: Def[] = [
  {
    key: "categories",
    title: "New grievances by category",
    config: (p) => stacked(p.categories, p.days),
  },
  {
    key: "statuses",
    title: "New grievances by status now",
    config: (p) => stacked(p.statuses, p.days),
  },
  {
    key: "times",
    title: "Resolved per day, and median hours to answer and to resolve",
    config: (p) => ({
      type: "line",
      data: {
        labels: p.days.map((d) => d.slice(5)),
        datasets: [
          { label: "Resolved", data: p.resolved, borderColor: COLORS[1], yAxisID: "y" },
          {
            label: "Hours to first answer",
            data: p.firstResponse,
            borderColor: COLORS[0],
            yAxisID: "y1",
          },
          {
            label: "Hours to resolution",
            data: p.resolution,
            borderColor: COLORS[2],
            yAxisID: "y1",
          },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        spanGaps: true,
        scales: {
          y: { beginAtZero: true, position: "left" },
          y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } },
        },
      },
    }),
  },
];

export default function GrievanceChart(props: GrievanceChartProps) {
  const [drawn, setDrawn] = useState(false);
  const canvas = useCharts(CHARTS, props, (def) => def.config(props), () => setDrawn(true));
  return (
    <div class="charts" data-drawn={drawn ? "true" : undefined}>
      {CHARTS.map((def) => (
        <ChartFigure
          key={def.key}
          def={def}
          label={`${def.title}, last ${props.days.length} days`}
          canvas={canvas(def.key)}
        />
      ))}
    </div>
  );
}
