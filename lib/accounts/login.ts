/**
 * Logging in with e-mail and password, the one flow behind `POST /api/v1/auth/login` and the
 * `/login` form: the per-account throttle (./login_throttle.ts) around the password check, the
 * counters `/metrics` shows, and an e-mail to the owner when the throttle first engages.
 */
import type { Sql } from "../db/mod.ts";
import { AppError } from "../errors.ts";
import type { Enqueuer } from "../jobs/types.ts";
import { emailJob } from "../mail/send.ts";
import type { Logger } from "../observability/log.ts";
import { beginLoginAttempt, clearLoginFailures, LOGIN_THROTTLE } from "./login_throttle.ts";
import { authenticate, normaliseEmail, type User } from "./users.ts";

export interface LoginDeps {
  sql: Sql;
  jobs: Enqueuer;
  log: Logger;
  publicUrl: string;
  counters: {
    /** Wrong e-mail or password. */
    failures: { inc(): void };
    /** Refused unchecked: the account's refusal window was open. */
    throttled: { inc(): void };
  };
}

function inWords(seconds: number): string {
  if (seconds < 120) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

export async function logIn(deps: LoginDeps, email: string, password: string): Promise<User> {
  const attempt = await beginLoginAttempt(deps.sql, email);
  if (!attempt.allowed) {
    deps.counters.throttled.inc();
    const wait = attempt.retryAfterSeconds;
    throw new AppError(
      "rate_limited",
      `Too many failed log-ins for this account. Try again in ${inWords(wait)}, or reset your ` +
        "password if you have forgotten it.",
      { retryAfterSeconds: wait },
    );
  }
  let user: User;
  try {
    user = await authenticate(deps.sql, email, password);
  } catch (error) {
    if (error instanceof AppError && error.code === "unauthorized") {
      deps.counters.failures.inc();
      if (attempt.failures === LOGIN_THROTTLE.freeFailures) {
        // Once per episode (the count passes this number once). Not awaited: a real address
        // must take no longer to answer than an unknown one.
        alertOwner(deps, email).catch((e) =>
          deps.log.error("log-in alert not queued", { error: (e as Error).message })
        );
      }
    } else if (error instanceof AppError) {
      // The right password of a disabled account: no guess to count.
      await clearLoginFailures(deps.sql, email);
    }
    throw error;
  }
  await clearLoginFailures(deps.sql, email);
  return user;
}

async function alertOwner(deps: LoginDeps, email: string): Promise<void> {
  const [owner] = await deps.sql`select id, email from users
                                 where lower(email) = ${
    normaliseEmail(email)
  } and disabled_at is null`;
  if (!owner) return;
  await deps.jobs.enqueue(emailJob, {
    to: owner.email,
    subject: "Failed log-ins to your Hurukuro account",
    text: `Someone tried to log in to your Hurukuro account with a wrong password ` +
      `${LOGIN_THROTTLE.freeFailures} times in a row.\n\n` +
      `Log-ins to your account are paused for a short while, and for longer after each further ` +
      `wrong password. If this was you, wait a little, or choose a new password here:\n\n` +
      `${deps.publicUrl}/reset\n\n` +
      `If it was not you, nobody got in: your password was not guessed. A long password that ` +
      `you use nowhere else keeps it that way.`,
  });
  deps.log.info("log-in alert queued", { userId: owner.id });
}
