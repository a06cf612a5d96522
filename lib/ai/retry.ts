/**
 * When and how long to wait before sending a failed upstream request again.
 *
 * We retry ourselves and turn the SDKs' own retries off (`maxRetries: 0`): the SDKs cannot retry
 * a stream that failed after its headers, they do not let us cap how long a `retry-after` may
 * make a user wait, and counting attempts in one place keeps "how many upstream calls did this
 * answer cost" true. cockatiel was the first choice, but its retry delay ignores the abort signal
 * (a user pressing stop during a 20 s `retry-after` would wait it out), and a delay that depends
 * on the error is all we need from it, so this is a few lines of our own.
 */
import { AiAbortedError, type AiError } from "./errors.ts";

export interface RetrySettings {
  /** Upstream requests in total, the first included. */
  maxAttempts: number;
  /** First backoff when the upstream gave no `retry-after`; doubles per retry. */
  baseDelayMs: number;
  /** Ceiling of the computed backoff. */
  maxDelayMs: number;
  /**
   * The longest `retry-after` we wait out. A longer one (an hourly quota) surfaces at once as the
   * error, with its `retryAfterMs`, instead of keeping the user staring at a spinner.
   */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetrySettings = {
  maxAttempts: 3,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 30_000,
};

/** Exponential backoff with up to 25 % jitter, so clients that failed together spread out. */
export function backoffDelay(
  retry: number,
  settings: RetrySettings,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** (retry - 1));
  return Math.round(ceiling * (1 - random() * 0.25));
}

/**
 * How long to wait before attempt number `attempt + 1`, or `undefined` to give up: the error is
 * final, the attempts are used up, or the upstream asks for a longer wait than we accept.
 */
export function retryDelay(
  error: AiError,
  attempt: number,
  settings: RetrySettings,
): number | undefined {
  if (!error.retryable || attempt >= settings.maxAttempts) return undefined;
  if (error.retryAfterMs !== undefined) {
    return error.retryAfterMs > settings.maxRetryAfterMs ? undefined : error.retryAfterMs;
  }
  return backoffDelay(attempt, settings);
}

/** Resolves after `ms`, or rejects with {@link AiAbortedError} as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AiAbortedError("aborted while waiting to retry"));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AiAbortedError("aborted while waiting to retry"));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs `attempt` until it succeeds or {@link retryDelay} says stop. `classify` turns whatever
 * was thrown into an {@link AiError}; the error finally thrown records the attempts made.
 */
export async function withRetry<T>(
  run: (attempt: number) => Promise<T>,
  classify: (error: unknown) => AiError,
  settings: RetrySettings,
  signal?: AbortSignal,
): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await run(attempt);
    } catch (thrown) {
      const error = signal?.aborted
        ? new AiAbortedError("aborted by the caller", { cause: thrown })
        : classify(thrown);
      const delay = retryDelay(error, attempt, settings);
      if (delay === undefined) {
        error.attempts = attempt;
        throw error;
      }
      await sleep(delay, signal);
    }
  }
}
