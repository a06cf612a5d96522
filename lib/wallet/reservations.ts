/**
 * Reservations: tokens held while AI work streams. Reserve an estimate before calling the
 * model (so a user cannot start more work than they can pay for), settle the actual usage after
 * (one usage debit for what was generated), and release the rest. A reservation left open by a
 * crash expires and is released by the sweeper (jobs/wallet_sweep.ts).
 *
 * The tier's daily token cap is checked in the same statement, on the same locked row: the
 * wallet's `cap_used` counts what the user's answers took or hold on `cap_day` (a day in
 * TZ_METRICS), so simultaneous answers, on any instance, cannot together go over the cap. A
 * reservation counts against the day it was made; settling it replaces its hold by what was
 * debited.
 */
import type { Sql } from "../db/mod.ts";
import { AppError } from "../errors.ts";
import { postInTransaction, type PostResult } from "./ledger.ts";

export const DEFAULT_RESERVATION_TTL_MS = 10 * 60 * 1000;

export interface Reservation {
  id: string;
  userId: string;
  amount: number;
}

/** The tier's daily token cap (0 = none) and the time zone its days are counted in. */
export interface DailyCap {
  cap: number;
  timeZone: string;
}

export async function reserve(
  sql: Sql,
  input: { userId: string; amount: number; purpose: string; ttlMs?: number; dailyCap?: DailyCap },
): Promise<Reservation> {
  if (!Number.isSafeInteger(input.amount) || input.amount <= 0) {
    throw new AppError("validation_failed", "A reservation is a positive whole number of tokens.");
  }
  // One statement (its own transaction), not begin/select for update/update/insert/commit:
  // it runs while the model call is in flight, and on the embedded database every statement
  // holds the event loop. The update's conditions (balance and daily cap) are re-checked on the
  // locked row, so two reservations racing for the same tokens cannot both pass; `account`
  // (read before it) only words the refusal. A wallet's first reservation of a day starts the
  // day's count from the day's debits.
  const ttl = input.ttlMs ?? DEFAULT_RESERVATION_TTL_MS;
  const cap = input.dailyCap?.cap ?? 0;
  const tz = input.dailyCap?.timeZone ?? "UTC";
  const [row] = await sql`
    with day as (
      select (now() at time zone ${tz})::date as today,
             date_trunc('day', now() at time zone ${tz}) at time zone ${tz} as since
    ), debited as (
      select coalesce(sum(e.amount), 0)::bigint as tokens from ledger_entries e, day
      where e.user_id = ${input.userId} and e.kind = 'usage_debit' and e.created_at >= day.since
    ), account as (
      select balance - reserved as available,
             case when cap_day = (select today from day) then cap_used
                  else (select tokens from debited) end as used_today
      from ledger_accounts where user_id = ${input.userId}
    ), held as (
      update ledger_accounts a
      set reserved = a.reserved + ${input.amount}, updated_at = now(), cap_day = day.today,
          cap_used = case when a.cap_day = day.today then a.cap_used
                          else (select tokens from debited) end + ${input.amount}
      from day
      where a.user_id = ${input.userId} and a.balance - a.reserved >= ${input.amount}
        and (${cap}::bigint = 0
             or case when a.cap_day = day.today then a.cap_used
                     else (select tokens from debited) end + ${input.amount} <= ${cap}::bigint)
      returning a.user_id, a.cap_day
    ), created as (
      insert into reservations (user_id, amount, purpose, expires_at, cap_day)
      select user_id, ${input.amount}, ${input.purpose},
             now() + ${ttl / 1000} * interval '1 second', cap_day
      from held
      returning id
    )
    select (select available from account) as available,
           (select used_today from account) as used_today,
           (select id from created) as id`;
  if (row.available === null) throw new AppError("not_found", "This wallet does not exist.");
  if (row.id === null) {
    const available = Math.max(0, Number(row.available));
    const usedToday = Number(row.used_today);
    // The balance when it is short (a top-up is the way on); the cap otherwise, also when the
    // refusal came from a reservation that raced this one (not yet seen by `account`).
    if (available >= input.amount || (cap > 0 && usedToday + input.amount > cap)) {
      if (cap > 0) {
        throw new AppError(
          "rate_limited",
          `This needs about ${input.amount} tokens, and ${usedToday} of today's ${cap} are ` +
            `used or held.`,
          { reason: "daily_cap", used: usedToday, cap },
        );
      }
    }
    throw new AppError(
      "insufficient_balance",
      `Not enough tokens: this needs about ${input.amount} and ${available} are available.`,
      { needed: input.amount, available },
    );
  }
  return { id: row.id, userId: input.userId, amount: input.amount };
}

/**
 * Closes an open reservation: debits `used` tokens (what the work actually cost; more than
 * reserved is taken from the balance up to what is available) and releases the hold. Settling
 * twice changes nothing: the reservation id is the debit's idempotency key.
 */
export async function settle(
  sql: Sql,
  reservationId: string,
  used: number,
  entry: { description: string; reference?: Record<string, unknown> },
): Promise<PostResult | null> {
  if (!Number.isSafeInteger(used) || used < 0) {
    throw new AppError("validation_failed", "Usage is a whole, non-negative number of tokens.");
  }
  return await sql.begin(async (tx) => {
    const [r] = await tx`select user_id, amount, status, cap_day::text as cap_day
                         from reservations where id = ${reservationId} for update`;
    if (!r) throw new AppError("not_found", "This reservation does not exist.");
    if (r.status !== "open") return null;
    const held = Number(r.amount);
    // The hold is lifted first, then the use is debited from what is then available: the
    // wallet's CHECK (reserved ≤ balance) holds after every statement. The day's count gives
    // back the hold if it is still the reservation's day (then takes what was debited).
    await tx`update ledger_accounts
             set reserved = reserved - ${held}, updated_at = now(),
                 cap_used = case when cap_day = ${r.cap_day}::date
                                 then greatest(0, cap_used - ${held}) else cap_used end
             where user_id = ${r.user_id}`;
    let result: PostResult | null = null;
    if (used > 0) {
      result = await postInTransaction(tx, {
        userId: r.user_id,
        kind: "usage_debit",
        delta: -used,
        idempotencyKey: `reservation:${reservationId}`,
        description: entry.description,
        reference: { reservationId, ...entry.reference },
        capToAvailable: true,
      });
      if (result.applied) {
        await tx`update ledger_accounts set cap_used = cap_used + ${-result.entry.delta}
                 where user_id = ${r.user_id} and cap_day = ${r.cap_day}::date`;
      }
    }
    await tx`update reservations
             set status = ${used > 0 ? "settled" : "released"},
                 used = ${result ? -result.entry.delta : 0}, closed_at = now()
             where id = ${reservationId}`;
    return result;
  });
}

/** Releases a reservation without charging (the work failed before producing anything). */
export async function release(sql: Sql, reservationId: string): Promise<void> {
  await settle(sql, reservationId, 0, { description: "released" });
}

/** Expires reservations past their deadline, releasing their holds. Returns how many. */
export async function sweepExpired(sql: Sql, now = new Date()): Promise<number> {
  return await sql.begin(async (tx) => {
    const expired = await tx`
      update reservations set status = 'expired', used = 0, closed_at = now()
      where id in (select id from reservations where status = 'open' and expires_at <= ${now}
                   order by expires_at limit 1000 for update skip locked)
      returning user_id, amount, cap_day::text as cap_day`;
    for (const r of expired) {
      await tx`update ledger_accounts
               set reserved = reserved - ${r.amount}, updated_at = now(),
                   cap_used = case when cap_day = ${r.cap_day}::date
                                   then greatest(0, cap_used - ${r.amount}) else cap_used end
               where user_id = ${r.user_id}`;
    }
    return expired.length;
  });
}
