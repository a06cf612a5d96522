/**
 * How long an upstream asked us to wait before trying again, read once for every client we have
 * (the AI providers, WhatsApp's, Slack, notification webhooks): `retry-after-ms` first (OpenAI
 * and Anthropic send it, more precise), then `Retry-After`, which is seconds or an HTTP date
 * (RFC 9110 §10.2.3). A date in the past means now.
 */

/**
 * The longest wait read: no upstream of ours asks for more than minutes, and a larger figure
 * (a hostile receiver's `Retry-After: 1e20`) would only overflow a timer or a database interval.
 */
export const LONGEST_RETRY_AFTER_MS = 24 * 3600 * 1000;

const DECIMAL = /^\d+(\.\d+)?$/;
/** Every HTTP date format names its month (`Sun, 06 Nov 1994 08:49:37 GMT`). */
const HTTP_DATE = /^[A-Za-z]{3}/;

/**
 * Milliseconds to wait, from an answer's headers; undefined when it names no wait we can read.
 * @example retryAfterMs(new Headers({ "retry-after": "2" })) // 2000
 */
export function retryAfterMs(
  headers: Headers | null | undefined,
  now = Date.now(),
): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get("retry-after-ms")?.trim();
  if (ms && DECIMAL.test(ms)) return bounded(Number(ms));
  const value = headers.get("retry-after")?.trim();
  if (!value) return undefined;
  if (DECIMAL.test(value)) return bounded(Number(value) * 1000);
  const at = HTTP_DATE.test(value) ? Date.parse(value) : NaN;
  return Number.isNaN(at) ? undefined : bounded(at - now);
}

const bounded = (ms: number) => Math.round(Math.min(Math.max(ms, 0), LONGEST_RETRY_AFTER_MS));
