/**
 * The one error type of the Paynow client. `code` says what the caller can do about it:
 *
 * - `rejected`: Paynow answered `status=Error`; `paynowError` is its text (`Insufficient balance`,
 *   `Invalid id.`), fit to show the user. Error replies carry no hash, so the text is unverified:
 *   treat it as "not initiated", never as a reason to change money.
 * - `invalid_hash`: a message claimed to come from Paynow but its hash is missing or wrong.
 * - `malformed`: a hashed message without the fields it must have.
 * - `http_error`: Paynow answered an HTTP error status (`httpStatus`).
 * - `network`: no answer (connection failure or timeout) after the allowed retries. For an
 *   initiation, `transactionCreated` tells whether Paynow has the transaction: `false` (trace
 *   found none: initiating again with the same reference is safe) or `"unknown"` (trace failed
 *   too: do not initiate again; trace later).
 * - `invalid_request`: our own input was refused before anything was sent.
 */
export type PaynowErrorCode =
  | "rejected"
  | "invalid_hash"
  | "malformed"
  | "http_error"
  | "network"
  | "invalid_request";

export interface PaynowErrorDetails {
  paynowError?: string;
  httpStatus?: number;
  transactionCreated?: false | "unknown";
  cause?: unknown;
}

export class PaynowError extends Error {
  override name = "PaynowError";
  readonly paynowError?: string;
  readonly httpStatus?: number;
  readonly transactionCreated?: false | "unknown";

  constructor(readonly code: PaynowErrorCode, message: string, details: PaynowErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.paynowError = details.paynowError;
    this.httpStatus = details.httpStatus;
    this.transactionCreated = details.transactionCreated;
  }
}
