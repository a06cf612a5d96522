/**
 * A bot's figures for its owner: totals, charts per day (chart.js, in this island's chunk
 * only), the questions asked most and those its knowledge did not cover. The period switches
 * in place (`GET /api/v1/bots/{id}/analytics?range=`).
 */
import { useEffect, useRef, useState } from "preact/hooks";
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartConfiguration,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import type { BotAnalytics as Data } from "../lib/bots/analytics.ts";

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
);

export interface BotAnalyticsProps {
  botId: string;
  initial: Data;
  ranges: number[];
}

const CHARTS: {
  key: string;
  title: string;
  type: "line" | "bar";
  lines: { label: string; color: string; pick: (d: Data["days"][number]) => number }[];
}[] = [
  {
    key: "activity",
    title: "Conversations and questions",
    type: "bar",
    lines: [
      { label: "Conversations", color: "#2f6fdb", pick: (d) => d.conversations },
      { label: "Questions", color: "#9bb8ef", pick: (d) => d.messages },
    ],
  },
  {
    key: "quality",
    title: "Answers",
    type: "bar",
    lines: [
      { label: "Weak or no knowledge", color: "#b26b00", pick: (d) => d.weakAnswers },
      { label: "👍", color: "#0b7a53", pick: (d) => d.thumbsUp },
      { label: "👎", color: "#b42318", pick: (d) => d.thumbsDown },
    ],
  },
  {
    key: "cost",
    title: "Wallet tokens spent",
    type: "line",
    lines: [{ label: "Cost", color: "#7a3fd1", pick: (d) => d.cost }],
  },
];

function config(def: typeof CHARTS[number], data: Data): ChartConfiguration {
  return {
    type: def.type,
    data: {
      labels: data.days.map((d) => d.day.slice(5)),
      datasets: def.lines.map((l) => ({
        label: l.label,
        data: data.days.map(l.pick),
        borderColor: l.color,
        backgroundColor: l.color,
        borderWidth: 2,
        pointRadius: data.days.length > 60 ? 0 : 2,
      })),
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      scales: { x: { ticks: { maxTicksLimit: 8, maxRotation: 0 } }, y: { beginAtZero: true } },
    },
  } as ChartConfiguration;
}

export default function BotAnalytics({ botId, initial, ranges }: BotAnalyticsProps) {
  const [data, setData] = useState(initial);
  const [problem, setProblem] = useState<string | null>(null);
  const [drawn, setDrawn] = useState(false);
  const canvases = useRef<Record<string, HTMLCanvasElement | null>>({});
  const charts = useRef<Record<string, Chart>>({});

  useEffect(() => {
    for (const def of CHARTS) {
      const canvas = canvases.current[def.key];
      if (!canvas) continue;
      const next = config(def, data);
      const chart = charts.current[def.key];
      if (chart) {
        chart.data = next.data;
        chart.update();
      } else charts.current[def.key] = new Chart(canvas, next);
    }
    setDrawn(true);
  }, [data]);
  useEffect(() => () => Object.values(charts.current).forEach((c) => c.destroy()), []);

  async function choose(range: number) {
    setProblem(null);
    try {
      const res = await fetch(`/api/v1/bots/${botId}/analytics?range=${range}`);
      if (!res.ok) throw new Error(String(res.status));
      setData(await res.json());
    } catch {
      setProblem("The figures could not be loaded. Try again.");
    }
  }

  const t = data.totals;
  return (
    <div class="metrics" data-drawn={drawn ? "true" : undefined}>
      <div class="range-switch" role="group" aria-label="Period">
        {ranges.map((r) => (
          <button
            type="button"
            aria-pressed={data.days.length === r}
            onClick={() => choose(r)}
          >
            {r} days
          </button>
        ))}
        <span class="muted">{data.from} to {data.to}</span>
      </div>
      {problem && <p class="form-error" role="alert">{problem}</p>}
      <div class="kpis">
        {[
          ["Conversations", t.conversations],
          ["Questions", t.messages],
          ["Weak answers", t.weakAnswers],
          ["👍 / 👎", `${t.thumbsUp} / ${t.thumbsDown}`],
          ["Tokens in / out", `${t.tokensIn} / ${t.tokensOut}`],
          ["Cost", t.cost],
        ].map(([label, value]) => (
          <div class="kpi">
            <span class="kpi-label">{label}</span>
            <strong>{value}</strong>
          </div>
        ))}
      </div>
      <div class="charts">
        {CHARTS.map((def) => (
          <figure class="chart">
            <figcaption>{def.title}</figcaption>
            <div class="chart-box">
              <canvas
                ref={(el) => {
                  canvases.current[def.key] = el;
                }}
                data-chart={def.key}
                role="img"
                aria-label={def.title}
              />
            </div>
          </figure>
        ))}
      </div>
      <div class="columns">
        <section>
          <h3>Asked most</h3>
          {data.topQuestions.length === 0 ? <p class="muted">No questions yet.</p> : (
            <ol>
              {data.topQuestions.map((q) => (
                <li>
                  {q.question} <span class="muted">×{q.count}</span>
                </li>
              ))}
            </ol>
          )}
        </section>
        <section>
          <h3>Not covered by its knowledge</h3>
          {data.weakQuestions.length === 0
            ? <p class="muted">Every question found something to answer from.</p>
            : (
              <ul data-testid="weak-questions">
                {data.weakQuestions.map((q) => (
                  <li>
                    {q.question} <span class="muted">×{q.count}</span>
                  </li>
                ))}
              </ul>
            )}
        </section>
      </div>
    </div>
  );
}
