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
import { type PostResult, SYSTEM_FOR } from "./ledger.ts";

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
 * twice changes nothing: the reservation is claimed while open, and its id is the debit's
 * idempotency key.
 *
 * One statement (its own transaction), like {@link reserve}: every answer settles, and on the
 * embedded database every statement holds the event loop. The reservation and then the wallet
 * are locked (`for update`) before anything is computed, so the debit is figured from the
 * wallet as it stands once no other writer holds it; the wallet's one update lifts the hold and
 * takes the debit together (its CHECK, reserved ≤ balance, holds on the row as written), the
 * system account is credited the same amount, and the day's count gives back the hold if it is
 * still the reservation's day and takes what was debited.
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
  const reference = { reservationId, ...entry.reference };
  const [row] = await sql<SettledRow[]>`
    with claimed as (
      select user_id, amount, cap_day from reservations
      where id = ${reservationId} and status = 'open'
      for update
    ), wallet as (
      select a.id, c.user_id, c.amount as held, c.cap_day,
             least(${used}::bigint, greatest(0, a.balance - a.reserved + c.amount)) as debit
      from ledger_accounts a join claimed c on a.user_id = c.user_id
      for update of a
    ), debited as (
      update ledger_accounts a
      set reserved = a.reserved - w.held, balance = a.balance - w.debit, updated_at = now(),
          cap_used = case when a.cap_day = w.cap_day
                          then greatest(0, a.cap_used - w.held) + w.debit
                          else a.cap_used end
      from wallet w where a.id = w.id
      returning a.balance
    ), credited as (
      update ledger_accounts a set balance = a.balance + w.debit, updated_at = now()
      from wallet w where a.name = ${SYSTEM_FOR.usage_debit} and w.debit > 0
      returning a.id
    ), posted as (
      insert into ledger_entries (idempotency_key, kind, debit_account, credit_account, amount,
                                  user_id, description, reference)
      select ${`reservation:${reservationId}`}, 'usage_debit', w.id, c.id, w.debit, w.user_id,
             ${entry.description}, ${sql.json(reference as never)}
      from wallet w, credited c
      returning id, created_at
    ), closed as (
      update reservations r
      set status = ${used > 0 ? "settled" : "released"}, used = w.debit, closed_at = now()
      from wallet w where r.id = ${reservationId}
      returning r.id
    )
    select exists (select 1 from reservations where id = ${reservationId}) as found,
           (select count(*) from closed)::int as closed,
           (select debit from wallet) as debit,
           (select balance from debited) as balance,
           (select id from posted) as entry_id,
           (select created_at from posted) as created_at`;
  if (!row.found) throw new AppError("not_found", "This reservation does not exist.");
  if (row.closed === 0 || used === 0) return null;
  const debit = Number(row.debit);
  return {
    entry: {
      id: row.entry_id ?? "",
      kind: "usage_debit",
      delta: -debit,
      description: entry.description,
      reference: debit > 0 ? reference : {},
      createdAt: row.created_at ?? new Date(),
    },
    applied: debit > 0,
    balance: Number(row.balance),
  };
}

/** What {@link settle}'s statement answers (bigints as strings). */
interface SettledRow {
  found: boolean;
  closed: number;
  debit: string | null;
  balance: string | null;
  entry_id: string | null;
  created_at: Date | null;
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
