/**
 * Reservations: tokens held while AI work streams. Reserve an estimate before calling the
 * model (so a user cannot start more work than they can pay for), settle the actual usage after
 * (one usage debit for what was generated), and release the rest. A reservation left open by a
 * crash expires and is released by the sweeper (jobs/wallet_sweep.ts).
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

export async function reserve(
  sql: Sql,
  input: { userId: string; amount: number; purpose: string; ttlMs?: number },
): Promise<Reservation> {
  if (!Number.isSafeInteger(input.amount) || input.amount <= 0) {
    throw new AppError("validation_failed", "A reservation is a positive whole number of tokens.");
  }
  // One statement (its own transaction), not begin/select for update/update/insert/commit:
  // it runs while the model call is in flight, and on the embedded database every statement
  // holds the event loop. The update's condition is re-checked on the locked row, so two
  // reservations racing for the same tokens cannot both pass; `available` (read before it) only
  // words the refusal.
  const ttl = input.ttlMs ?? DEFAULT_RESERVATION_TTL_MS;
  const [row] = await sql`
    with account as (
      select balance - reserved as available from ledger_accounts where user_id = ${input.userId}
    ), held as (
      update ledger_accounts set reserved = reserved + ${input.amount}, updated_at = now()
      where user_id = ${input.userId} and balance - reserved >= ${input.amount}
      returning user_id
    ), created as (
      insert into reservations (user_id, amount, purpose, expires_at)
      select user_id, ${input.amount}, ${input.purpose},
             now() + ${ttl / 1000} * interval '1 second'
      from held
      returning id
    )
    select (select available from account) as available, (select id from created) as id`;
  if (row.available === null) throw new AppError("not_found", "This wallet does not exist.");
  if (row.id === null) {
    const available = Math.max(0, Number(row.available));
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
    const [r] = await tx`select * from reservations where id = ${reservationId} for update`;
    if (!r) throw new AppError("not_found", "This reservation does not exist.");
    if (r.status !== "open") return null;
    const held = Number(r.amount);
    // The hold is lifted first, then the use is debited from what is then available: the
    // wallet's CHECK (reserved ≤ balance) holds after every statement.
    await tx`update ledger_accounts set reserved = reserved - ${held}, updated_at = now()
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
      returning user_id, amount`;
    for (const r of expired) {
      await tx`update ledger_accounts set reserved = reserved - ${r.amount}, updated_at = now()
               where user_id = ${r.user_id}`;
    }
    return expired.length;
  });
}
