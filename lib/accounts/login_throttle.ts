/**
 * Password guessing, slowed per account: the per-address limit (routes/_auth.ts) does nothing
 * against guesses spread over many addresses, so failures are also counted per e-mail.
 *
 * - Each attempt is counted before its password is checked, in one statement that also refuses
 *   it while the e-mail is in a refusal window: a burst of parallel guesses gets exactly
 *   {@link LOGIN_THROTTLE}.freeFailures checks, however many arrive at once.
 * - From the fifth consecutive failure on, each one opens a refusal window: 15 s, doubling with
 *   every further failure, at most 15 minutes. A refused attempt is not counted and its password
 *   is not checked, so the right password does not help an attacker inside a window.
 * - It is a slow-down, not a lock: a window always ends, a success or a password reset ends the
 *   episode (the count starts again at zero), and a day without attempts forgets it.
 * - Unknown e-mails are counted and refused exactly like real ones (same statements, messages
 *   and windows), so the throttle reveals nothing about which addresses have accounts.
 */
import type { Sql } from "../db/mod.ts";
import { sha256Hex } from "../security/tokens.ts";
import { normaliseEmail } from "./users.ts";

export const LOGIN_THROTTLE = {
  /** Consecutive failures before the first refusal window. */
  freeFailures: 5,
  firstWindowSeconds: 15,
  maxWindowSeconds: 15 * 60,
  /** Hours without an attempt after which the count starts again. */
  forgetAfterHours: 24,
};

export type LoginAttempt =
  /** `failures` counts this attempt, as if it fails. */
  | { allowed: true; failures: number }
  | { allowed: false; retryAfterSeconds: number };

/** The refusal window that follows the `failures`-th consecutive failure (0: none). */
export function windowSeconds(failures: number): number {
  const { freeFailures, firstWindowSeconds, maxWindowSeconds } = LOGIN_THROTTLE;
  if (failures < freeFailures) return 0;
  // The exponent is bounded so the doubling never overflows, whatever the count.
  const doublings = Math.min(failures - freeFailures, 30);
  return Math.min(maxWindowSeconds, firstWindowSeconds * 2 ** doublings);
}

const keyOf = (email: string) => sha256Hex(`login:${normaliseEmail(email)}`);

/**
 * Counts an attempt to log in as `email`, or refuses it while a window is open. Call
 * {@link clearLoginFailures} when the password turns out right.
 */
export async function beginLoginAttempt(
  sql: Sql,
  email: string,
  now = new Date(),
): Promise<LoginAttempt> {
  const key = await keyOf(email);
  const { freeFailures, firstWindowSeconds, maxWindowSeconds, forgetAfterHours } = LOGIN_THROTTLE;
  // The count after this attempt, and the window it opens: `windowSeconds` in SQL, so that the
  // check, the count and the window are one atomic statement under the row's lock.
  const counted = `case when t.last_attempt_at < $2::timestamptz - $6 * interval '1 hour' then 1
                        else t.failures + 1 end`;
  const window = (failures: string) =>
    `case when ${failures} >= $3 then $2::timestamptz + least($5, $4 * power(2, least(${failures} - $3, 30)))
                                                 * interval '1 second' end`;
  const [row] = await sql.unsafe(
    `insert into login_throttles as t (email_hash, failures, blocked_until, last_attempt_at)
     values ($1, 1, ${window("1")}, $2)
     on conflict (email_hash) do update set
       failures = ${counted},
       blocked_until = ${window(counted)},
       last_attempt_at = $2
     where t.blocked_until is null or t.blocked_until <= $2
     returning failures`,
    [key, now, freeFailures, firstWindowSeconds, maxWindowSeconds, forgetAfterHours],
  );
  if (row) return { allowed: true, failures: row.failures };
  const [blocked] = await sql`select blocked_until from login_throttles where email_hash = ${key}`;
  const until = blocked?.blocked_until as Date | undefined;
  const retryAfterSeconds = until ? Math.ceil((until.getTime() - now.getTime()) / 1000) : 1;
  return { allowed: false, retryAfterSeconds: Math.max(1, retryAfterSeconds) };
}

/** Ends the episode: a right password, or a password reset. */
export async function clearLoginFailures(sql: Sql, email: string): Promise<void> {
  await sql`delete from login_throttles where email_hash = ${await keyOf(email)}`;
}

/** Removes counts no attempt has touched for a day (they would start again anyway). */
export async function forgetOldLoginFailures(sql: Sql, now = new Date()): Promise<number> {
  const gone = await sql`
    delete from login_throttles
    where last_attempt_at < ${now}::timestamptz - ${LOGIN_THROTTLE.forgetAfterHours} * interval '1 hour'
      and (blocked_until is null or blocked_until < ${now})
    returning 1`;
  return gone.length;
}
