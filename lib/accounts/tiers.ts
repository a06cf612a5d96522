/**
 * Tiers: a requests-per-minute limit and a daily token cap per user (0 = no cap). The day is
 * counted in TZ_METRICS (Africa/Harare by default), as people there live it.
 */
import { refreshAhead } from "../cache.ts";
import { formatCount } from "../format.ts";
import type { Sql } from "../db/mod.ts";
import { AppError } from "../errors.ts";

export interface Tier {
  name: string;
  requestsPerMinute: number;
  dailyTokenCap: number;
}

export async function listTiers(sql: Sql): Promise<Tier[]> {
  const rows =
    await sql`select name, requests_per_minute, daily_token_cap from tiers order by position`;
  return rows.map((r) => ({
    name: r.name,
    requestsPerMinute: r.requests_per_minute,
    dailyTokenCap: Number(r.daily_token_cap),
  }));
}

/**
 * Tiers change rarely (an admin edits them): a few seconds of caching saves a query per request,
 * and refreshing ahead (lib/cache.ts) keeps that query out of the requests themselves.
 */
export function tierCache(sql: Sql, ttlMs = 5_000): (name: string) => Promise<Tier> {
  const cached = refreshAhead(
    async () => new Map((await listTiers(sql)).map((t) => [t.name, t])),
    ttlMs,
  );
  return async (name) => {
    const tiers = await cached.get();
    const tier = tiers.get(name) ?? tiers.get("free");
    if (!tier) throw new Error(`tier ${name} is not defined`);
    return tier;
  };
}

/** Wallet tokens the user spent today (local day in `timeZone`). */
export async function tokensUsedToday(sql: Sql, userId: string, timeZone: string): Promise<number> {
  const [row] = await sql`
    select coalesce(sum(amount), 0)::bigint as used from ledger_entries
    where user_id = ${userId} and kind = 'usage_debit'
      and created_at >= (date_trunc('day', now() at time zone ${timeZone}) at time zone ${timeZone})`;
  return Number(row.used);
}

/** Refuses work that would take the user over their tier's daily cap. */
export async function assertWithinDailyCap(
  sql: Sql,
  input: { userId: string; tier: Tier; estimate: number; timeZone: string },
): Promise<void> {
  if (input.tier.dailyTokenCap === 0) return;
  const used = await tokensUsedToday(sql, input.userId, input.timeZone);
  if (used + input.estimate > input.tier.dailyTokenCap) throw dailyCapError(input.tier, used);
}

/**
 * The refusal of work over the daily cap. This check reads the day's debits before the work
 * starts; the reservation (lib/wallet/reservations.ts) holds the cap exactly, counting the
 * answers in progress too.
 */
export function dailyCapError(tier: Tier, used: number): AppError {
  return new AppError(
    "rate_limited",
    `You have used ${formatCount(used)} of your ${formatCount(tier.dailyTokenCap)} ` +
      `tokens for today on the ${tier.name} plan. The allowance renews at midnight.`,
    { used, cap: tier.dailyTokenCap },
  );
}

/** Where a user stands against their tier's daily cap today. */
export interface DailyAllowance {
  /** Wallet tokens a day (0: no cap). */
  cap: number;
  used: number;
  /** What is left today; null when there is no cap. */
  left: number | null;
  /** The next local midnight in `timeZone`, when the count starts again. */
  resetsAt: Date;
}

export async function dailyAllowance(
  sql: Sql,
  input: { userId: string; tier: Tier; timeZone: string },
): Promise<DailyAllowance> {
  const [used, [row]] = await Promise.all([
    tokensUsedToday(sql, input.userId, input.timeZone),
    sql`select (date_trunc('day', now() at time zone ${input.timeZone}) + interval '1 day')
                 at time zone ${input.timeZone} as resets_at`,
  ]);
  const cap = input.tier.dailyTokenCap;
  return {
    cap,
    used,
    left: cap === 0 ? null : Math.max(0, cap - used),
    resetsAt: new Date(row.resets_at),
  };
}
