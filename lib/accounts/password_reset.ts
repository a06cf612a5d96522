/**
 * Password reset by e-mailed link: single use, expiring after 30 minutes, and asking for one
 * never reveals whether the e-mail has an account.
 */
import type { Sql } from "../db/mod.ts";
import { AppError } from "../errors.ts";
import { randomToken, sha256Hex } from "../security/tokens.ts";
import { clearLoginFailures } from "./login_throttle.ts";
import { normaliseEmail, setPassword } from "./users.ts";

export const RESET_TTL_MINUTES = 30;

/** A reset token for the account with this e-mail, or `null` when there is none. */
export async function startPasswordReset(
  sql: Sql,
  email: string,
): Promise<{ token: string; userId: string; email: string } | null> {
  const [user] = await sql`select id, email from users
                           where lower(email) = ${normaliseEmail(email)} and disabled_at is null`;
  if (!user) return null;
  const token = randomToken();
  await sql`insert into password_resets (user_id, token_hash, expires_at)
            values (${user.id}, ${await sha256Hex(token)},
                    now() + ${RESET_TTL_MINUTES} * interval '1 minute')`;
  return { token, userId: user.id, email: user.email };
}

/** Sets the new password if the token is live; the token is spent either way it succeeds. */
export async function completePasswordReset(
  sql: Sql,
  token: string,
  password: string,
): Promise<string> {
  const hash = await sha256Hex(token);
  const [row] = await sql`
    update password_resets set used_at = now()
    where token_hash = ${hash} and used_at is null and expires_at > now()
    returning user_id`;
  if (!row) {
    throw new AppError(
      "bad_request",
      "This reset link has expired or was already used. Ask for a new one.",
      { field: "token" },
    );
  }
  await setPassword(sql, row.user_id, password);
  // Every other way in is closed: whoever knew the old password is logged out.
  await sql`update refresh_tokens set revoked_at = now() where user_id = ${row.user_id} and revoked_at is null`;
  await sql`update sessions set revoked_at = now() where user_id = ${row.user_id} and revoked_at is null`;
  // The new password ends any log-in throttling: the owner is not kept waiting on a guesser.
  const [user] = await sql`select email from users where id = ${row.user_id}`;
  if (user?.email) await clearLoginFailures(sql, user.email);
  return row.user_id;
}
