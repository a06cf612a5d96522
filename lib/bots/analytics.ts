/**
 * Each bot's figures, for its owner: conversations and questions per day, tokens and cost,
 * answers given with weak or no knowledge (what to add to it), thumbs up and down; and, over a
 * period, the questions asked most and those the knowledge did not cover.
 *
 * Like the admin dashboard's (lib/metrics/daily.ts), days are counted in TZ_METRICS and
 * recorded by the daily metrics job into `bot_daily_metrics`; a day computed twice is stored
 * the same. Today is computed live from the messages.
 */
import type { Sql } from "../db/mod.ts";
import { dayBounds } from "../metrics/daily.ts";
import { addDays, dayIn } from "../metrics/days.ts";

export interface BotDay {
  day: string;
  conversations: number;
  messages: number;
  tokensIn: number;
  tokensOut: number;
  cost: number;
  weakAnswers: number;
  thumbsUp: number;
  thumbsDown: number;
}

const FIGURES = [
  "conversations",
  "messages",
  "tokensIn",
  "tokensOut",
  "cost",
  "weakAnswers",
  "thumbsUp",
  "thumbsDown",
] as const;

/** One day's figures of one bot, as {@link computeBotDay} counts them (bigint sums as text). */
interface BotDayRow {
  bot_id: string;
  conversations: number;
  messages: number;
  tokens_in: string;
  tokens_out: string;
  cost: string;
  weak: number;
  up: number;
  down: number;
}

/** A `bot_daily_metrics` row, its day as text (bigint columns as text). */
interface DailyMetricsRow {
  day: string;
  conversations: number;
  messages: number;
  tokens_in: string;
  tokens_out: string;
  cost: string;
  weak_answers: number;
  thumbs_up: number;
  thumbs_down: number;
}

/** One day's figures of every bot with activity that day (or of one bot). */
export async function computeBotDay(
  sql: Sql,
  day: string,
  timeZone: string,
  botId?: string,
): Promise<(BotDay & { botId: string })[]> {
  const { start, end } = await dayBounds(sql, day, timeZone);
  const rows = await sql<BotDayRow[]>`
    with m as (
      select bot_id, role, conversation_id, tokens_in, tokens_out, cost, knowledge_weak, feedback
      from messages
      where bot_id is not null and created_at >= ${start} and created_at < ${end}
        and (${botId ?? null}::uuid is null or bot_id = ${botId ?? null}::uuid)
    ),
    c as (
      select bot_id, count(*)::int as n from conversations
      where bot_id is not null and created_at >= ${start} and created_at < ${end}
        and (${botId ?? null}::uuid is null or bot_id = ${botId ?? null}::uuid)
      group by bot_id
    )
    select b.bot_id, coalesce(c.n, 0) as conversations,
      coalesce(a.messages, 0) as messages, coalesce(a.tokens_in, 0) as tokens_in,
      coalesce(a.tokens_out, 0) as tokens_out, coalesce(a.cost, 0) as cost,
      coalesce(a.weak, 0) as weak, coalesce(a.up, 0) as up, coalesce(a.down, 0) as down
    from (select bot_id from m union select bot_id from c) b
    left join c on c.bot_id = b.bot_id
    left join (
      select bot_id,
        count(*) filter (where role = 'user')::int as messages,
        sum(tokens_in) filter (where role = 'assistant')::bigint as tokens_in,
        sum(tokens_out) filter (where role = 'assistant')::bigint as tokens_out,
        sum(cost) filter (where role = 'assistant')::bigint as cost,
        count(*) filter (where role = 'user' and knowledge_weak)::int as weak,
        count(*) filter (where role = 'assistant' and feedback = 1)::int as up,
        count(*) filter (where role = 'assistant' and feedback = -1)::int as down
      from m group by bot_id
    ) a on a.bot_id = b.bot_id`;
  return rows.map((r) => ({
    botId: r.bot_id,
    day,
    conversations: Number(r.conversations),
    messages: Number(r.messages),
    tokensIn: Number(r.tokens_in),
    tokensOut: Number(r.tokens_out),
    cost: Number(r.cost),
    weakAnswers: Number(r.weak),
    thumbsUp: Number(r.up),
    thumbsDown: Number(r.down),
  }));
}

/** Computes and stores one day of every bot (run by the daily metrics job); returns the rows. */
export async function recordBotDay(sql: Sql, day: string, timeZone: string): Promise<number> {
  const rows = await computeBotDay(sql, day, timeZone);
  await sql.begin(async (tx) => {
    await tx`delete from bot_daily_metrics where day = ${day}::date`;
    if (rows.length === 0) return;
    await tx`
      insert into bot_daily_metrics ${
      tx(rows.map((r) => ({
        bot_id: r.botId,
        day: r.day,
        conversations: r.conversations,
        messages: r.messages,
        tokens_in: r.tokensIn,
        tokens_out: r.tokensOut,
        cost: r.cost,
        weak_answers: r.weakAnswers,
        thumbs_up: r.thumbsUp,
        thumbs_down: r.thumbsDown,
      })))
    }`;
  });
  return rows.length;
}

export interface BotAnalytics {
  from: string;
  to: string;
  days: BotDay[];
  totals: Omit<BotDay, "day">;
  /** The questions asked most over the period. */
  topQuestions: { question: string; count: number }[];
  /** Recent questions the knowledge did not cover (what to add). */
  weakQuestions: { question: string; count: number; lastAskedAt: string }[];
}

const empty = (day: string): BotDay => ({
  day,
  conversations: 0,
  messages: 0,
  tokensIn: 0,
  tokensOut: 0,
  cost: 0,
  weakAnswers: 0,
  thumbsUp: 0,
  thumbsDown: 0,
});

/** The bot's figures over the last `range` days (today included, computed live). */
export async function botAnalytics(
  sql: Sql,
  botId: string,
  timeZone: string,
  range = 30,
  now = new Date(),
): Promise<BotAnalytics> {
  const to = dayIn(now, timeZone);
  const from = addDays(to, -(range - 1));
  const stored = await sql<DailyMetricsRow[]>`
    select day::text as day, conversations, messages, tokens_in, tokens_out, cost, weak_answers,
           thumbs_up, thumbs_down
    from bot_daily_metrics where bot_id = ${botId} and day between ${from}::date and ${to}::date`;
  const byDay = new Map<string, BotDay>(stored.map((r) => [r.day, {
    day: r.day,
    conversations: Number(r.conversations),
    messages: Number(r.messages),
    tokensIn: Number(r.tokens_in),
    tokensOut: Number(r.tokens_out),
    cost: Number(r.cost),
    weakAnswers: Number(r.weak_answers),
    thumbsUp: Number(r.thumbs_up),
    thumbsDown: Number(r.thumbs_down),
  }]));
  const [today] = await computeBotDay(sql, to, timeZone, botId);
  byDay.set(to, today ? { ...today, day: to } : empty(to));
  const days: BotDay[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) days.push(byDay.get(d) ?? empty(d));
  const totals = Object.fromEntries(
    FIGURES.map((f) => [f, days.reduce((s, d) => s + d[f], 0)]),
  ) as Omit<BotDay, "day">;
  const { start } = await dayBounds(sql, from, timeZone);
  const [top, weak] = await Promise.all([
    sql<{ question: string; n: number }[]>`
        select min(content) as question, count(*)::int as n from messages
        where bot_id = ${botId} and role = 'user' and created_at >= ${start}
        group by lower(regexp_replace(trim(content), '\\s+', ' ', 'g'))
        order by n desc, question limit 10`,
    sql<{ question: string; n: number; last: Date }[]>`
        select min(content) as question, count(*)::int as n, max(created_at) as last
        from messages
        where bot_id = ${botId} and role = 'user' and knowledge_weak and created_at >= ${start}
        group by lower(regexp_replace(trim(content), '\\s+', ' ', 'g'))
        order by last desc limit 20`,
  ]);
  return {
    from,
    to,
    days,
    totals,
    topQuestions: top.map((r) => ({ question: r.question, count: r.n })),
    weakQuestions: weak.map((r) => ({
      question: r.question,
      count: r.n,
      lastAskedAt: r.last.toISOString(),
    })),
  };
}
