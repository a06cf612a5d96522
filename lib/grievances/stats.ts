/**
 * The grievances' daily figures (added to `daily_metrics` by the nightly metrics cron,
 * lib/metrics/daily.ts): how many came in (in all, per category, per channel, and per status
 * they are in when the day is computed), how many were resolved, and the median hours to the
 * first answer and to resolution of those answered or resolved that day.
 */
import type { Sql } from "../db/mod.ts";

export interface Figure {
  metric: string;
  dims: Record<string, string>;
  value: unknown;
}

export async function grievanceFigures(sql: Sql, start: Date, end: Date): Promise<Figure[]> {
  const [byCategory, byStatus, byChannel, [resolved], [firstResponse], [resolution]] = await Promise
    .all([
      sql`select c.slug, count(*)::int as n from grievances g
          join grievance_category_links l on l.grievance_id = g.id
          join grievance_categories c on c.id = l.category_id
          where g.created_at >= ${start} and g.created_at < ${end}
          group by c.slug order by c.slug`,
      sql`select status, count(*)::int as n from grievances
          where created_at >= ${start} and created_at < ${end}
          group by status order by status`,
      sql`select channel, count(*)::int as n from grievances
          where created_at >= ${start} and created_at < ${end}
          group by channel order by channel`,
      sql`select count(*)::int as n from grievances
          where resolved_at >= ${start} and resolved_at < ${end} and status = 'resolved'`,
      sql`select round((percentile_cont(0.5) within group (order by
                  extract(epoch from first_response_at - created_at) / 3600))::numeric, 3) as h
          from grievances where first_response_at >= ${start} and first_response_at < ${end}`,
      sql`select round((percentile_cont(0.5) within group (order by
                  extract(epoch from resolved_at - created_at) / 3600))::numeric, 3) as h
          from grievances
          where resolved_at >= ${start} and resolved_at < ${end} and status = 'resolved'`,
    ]);
  const figures: Figure[] = [];
  const add = (metric: string, value: unknown, dims: Record<string, string> = {}) =>
    figures.push({ metric, value, dims });
  add("grievances.new", byStatus.reduce((s, r) => s + r.n, 0));
  for (const r of byCategory) add("grievances.new", r.n, { category: r.slug });
  for (const r of byChannel) add("grievances.new", r.n, { channel: r.channel });
  for (const r of byStatus) add("grievances.new", r.n, { status: r.status });
  add("grievances.resolved", resolved.n);
  if (firstResponse.h !== null) add("grievances.first_response_median_hours", firstResponse.h);
  if (resolution.h !== null) add("grievances.resolution_median_hours", resolution.h);
  return figures;
}
