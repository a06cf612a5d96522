/**
 * The one error type. Domain code throws `AppError` with a stable machine code and a sentence a
 * person can act on; the web layer turns it into `{"error":{"code","message","details"?}}` for
 * `/api` or an HTML page elsewhere (routes/_app.tsx). Anything else thrown is a bug: it is logged
 * with its stack and answered as a generic 500, never shown to the user.
 */
export type ErrorCode =
  | "bad_request"
  | "validation_failed"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "method_not_allowed"
  | "conflict"
  | "payload_too_large"
  | "unsupported_media_type"
  | "unprocessable"
  | "insufficient_balance"
  | "rate_limited"
  | "upstream_unavailable"
  | "unavailable"
  | "internal";

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  validation_failed: 400,
  unauthorized: 401,
  insufficient_balance: 402,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  rate_limited: 429,
  internal: 500,
  upstream_unavailable: 502,
  unavailable: 503,
};

/**
 * The code for an HTTP status raised outside our code (Hono's `HTTPException`, e.g. a validator's
 * 415): the first code with that status, `bad_request` for a status we do not name.
 */
export function codeForStatus(status: number): ErrorCode {
  const found = (Object.keys(STATUS) as ErrorCode[]).find((code) => STATUS[code] === status);
  return found && status < 500 ? found : "bad_request";
}

export class AppError extends Error {
  override name = "AppError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    /** Extra response headers, e.g. `Retry-After`. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }

  get status(): number {
    return STATUS[this.code];
  }

  toJSON(): { error: { code: ErrorCode; message: string; details?: unknown } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

export const notFound = (what = "This page") =>
  new AppError("not_found", `${what} does not exist.`);
