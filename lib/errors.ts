/**
 * The one error type. Domain code throws `AppError` with a stable machine code, a sentence a
 * person can act on, and details (the field at fault, how long to wait …). It says what went
 * wrong, not how to answer it: the web layer (routes/_errors.tsx) maps each code to an HTTP
 * status and the details to headers (`Retry-After`), and a WhatsApp reply or a job reads the
 * same error in its own terms. Anything else thrown is a bug.
 */

/** The codes, in the order the web layer looks them up; a new code needs a status there. */
export const ERROR_CODES = [
  "bad_request",
  "validation_failed",
  "unauthorized",
  "forbidden",
  "not_found",
  "method_not_allowed",
  "conflict",
  "unprocessable",
  "payload_too_large",
  "unsupported_media_type",
  "insufficient_balance",
  "rate_limited",
  "upstream_unavailable",
  "unavailable",
  "internal",
] as const;
export type ErrorCode = typeof ERROR_CODES[number];

/** What an error says beyond its sentence; any other key is shown to the caller as it is. */
export interface ErrorDetails {
  /** The input field at fault. */
  field?: string;
  /** Seconds before trying again can succeed (a rate limit, a throttled log-in). */
  retryAfterSeconds?: number;
  [key: string]: unknown;
}

export class AppError extends Error {
  override name = "AppError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetails,
  ) {
    super(message);
  }
}

export const notFound = (what = "This page") =>
  new AppError("not_found", `${what} does not exist.`);
