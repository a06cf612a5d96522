/**
 * A bot's figures for its owner: totals, charts per day (chart.js, in this island's chunk
 * only), the questions asked most and those its knowledge did not cover. The period switches
 * in place (`GET /api/v1/bots/{id}/analytics?range=`).
 */
import { useState } from "preact/hooks";
import type { BotAnalytics as Data } from "../lib/bots/analytics.ts";
import { chart, ChartFigure, dailyChart, RangeSwitch, useCharts } from "./_charts.tsx";
import { Kpi } from "./_kpi.tsx";

export interface BotAnalyticsProps {
  botId: string;
  initial: Data;
  ranges: number[];
}

type Day = Data["days"][number];
const line = (label: string, color: string, pick: (d: Day) => number) => ({ label, color, pick });

const CHARTS = [
  chart("activity", "Conversations and questions", "bar", [
    line("Conversations", "#2f6fdb", (d) => d.conversations),
    line("Questions", "#9bb8ef", (d) => d.messages),
  ]),
  chart("quality", "Answers", "bar", [
    line("Weak or no knowledge", "#b26b00", (d) => d.weakAnswers),
    line("👍", "#0b7a53", (d) => d.thumbsUp),
    line("👎", "#b42318", (d) => d.thumbsDown),
  ]),
  chart("cost", "Wallet tokens spent", "line", [line("Cost", "#7a3fd1", (d) => d.cost)]),
];

const config = (def: typeof CHARTS[number], data: Data) =>
  dailyChart({
    type: def.type,
    days: data.days.map((d) => d.day),
    lines: def.lines.map((l) => ({ label: l.label, color: l.color, data: data.days.map(l.pick) })),
    pointsUpTo: 60,
  });

export default function BotAnalytics({ botId, initial, ranges }: BotAnalyticsProps) {
  const [data, setData] = useState(initial);
  const [problem, setProblem] = useState<string | null>(null);
  const [drawn, setDrawn] = useState(false);
  const canvas = useCharts(CHARTS, data, (def) => config(def, data), () => setDrawn(true));

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
      <RangeSwitch
        ranges={ranges}
        current={data.days.length}
        from={data.from}
        to={data.to}
        onChoose={choose}
      />
      {problem && <p class="form-error" role="alert">{problem}</p>}
      <div class="kpis">
        {[
          ["Conversations", t.conversations],
          ["Questions", t.messages],
          ["Weak answers", t.weakAnswers],
          ["👍 / 👎", `${t.thumbsUp} / ${t.thumbsDown}`],
          ["Tokens in / out", `${t.tokensIn} / ${t.tokensOut}`],
          ["Cost", t.cost],
        ].map(([label, value]) => <Kpi key={label} label={label} value={value} />)}
      </div>
      <div class="charts">
        {CHARTS.map((def) => (
          <ChartFigure key={def.key} def={def} label={def.title} canvas={canvas(def.key)} />
        ))}
      </div>
      <div class="columns">
        <QuestionCounts
          title="Asked most"
          empty="No questions yet."
          questions={data.topQuestions}
          ordered
        />
        <QuestionCounts
          title="Not covered by its knowledge"
          empty="Every question found something to answer from."
          questions={data.weakQuestions}
          testId="weak-questions"
        />
      </div>
    </div>
  );
}

/** Questions with how often they were asked: a ranked list, or a plain one. */
function QuestionCounts(props: {
  title: string;
  empty: string;
  questions: Data["topQuestions"];
  ordered?: boolean;
  testId?: string;
}) {
  const items = props.questions.map((q) => (
    <li>
      {q.question} <span class="muted">×{q.count}</span>
    </li>
  ));
  return (
    <section>
      <h3>{props.title}</h3>
      {props.questions.length === 0
        ? <p class="muted">{props.empty}</p>
        : props.ordered
        ? <ol>{items}</ol>
        : <ul data-testid={props.testId}>{items}</ul>}
    </section>
  );
}
