/**
 * Paynow's merchant interface (docs/payments.md): initiate a web (redirect) or express (USSD push)
 * checkout, poll it, trace it when the poll URL was lost, and read result POSTs.
 *
 * Every message from Paynow is hash-checked before anything is read from it, except `Error`
 * replies, which Paynow sends without a hash: those become a `rejected` {@link PaynowError} whose
 * text may be shown but never moves money. Network failures are retried only where repeating is
 * harmless (poll, trace). An initiation is never re-sent blindly: when its answer is lost, the
 * client asks Paynow with `trace` whether the transaction exists and recovers its poll URL.
 *
 * @example
 * const paynow = new PaynowClient({ integrationId: "1201", integrationKey: key });
 * const started = await paynow.initiateExpress({
 *   reference: "HK-42", amount: "5.00", additionalInfo: "500 tokens",
 *   returnUrl: `${publicUrl}/pay/return`, resultUrl: `${publicUrl}/api/paynow/result`,
 *   authEmail: "shop@example.com", phone: "077 111 1111", method: "ecocash",
 * });
 * const status = await paynow.poll(started.pollUrl); // status.outcome: "paid" | "pending" | ...
 */
import { type PaynowFields, signFields, verifyPaynowHash } from "./hash.ts";
import { encodeMessage, FORM_CONTENT_TYPE, parseMessage, type PaynowMessage } from "./message.ts";
import { PaynowError } from "./errors.ts";
import { type PaynowOutcome, paynowOutcome } from "./status.ts";
import { parseZimbabweMobile } from "./phone.ts";
import { EXPRESS_METHODS, type ExpressMethod } from "./methods.ts";

export const PAYNOW_BASE_URL = "https://www.paynow.co.zw";

export interface PaynowClientOptions {
  integrationId: string;
  integrationKey: string;
  /** Where Paynow lives; the fake's URL in tests and sandbox. Default {@link PAYNOW_BASE_URL}. */
  baseUrl?: string;
  /** Limit for one attempt, answer body included. Default 20 s. */
  timeoutMs?: number;
  /** Extra attempts after a network error, for requests that are safe to repeat. Default 2. */
  retries?: number;
  /** Wait before the first retry, doubled for each next one. Default 500 ms. */
  retryDelayMs?: number;
  fetch?: typeof fetch;
}

export { EXPRESS_METHODS, type ExpressMethod } from "./methods.ts";

export interface CheckoutRequest {
  /** Our unique reference for the payment. */
  reference: string;
  /** `"5.00"`, `"5"` or `5`: sent with two decimals. */
  amount: string | number;
  /** Shown to the payer on Paynow's page. */
  additionalInfo: string;
  /** Where Paynow sends the payer back after a web checkout. */
  returnUrl: string;
  /** Where Paynow POSTs status updates. */
  resultUrl: string;
  authEmail?: string;
  /** Unique id (≤ 32 chars) for {@link PaynowClient.trace}; defaults to `reference`. */
  merchantTrace?: string;
}

export interface ExpressCheckoutRequest extends CheckoutRequest {
  /** Required by Paynow for express checkout (in test mode: the merchant account's login). */
  authEmail: string;
  /** Any accepted Zimbabwean format; sent in the local `07XXXXXXXX` form. */
  phone: string;
  method: ExpressMethod;
}

export interface Initiated {
  status: "Ok";
  pollUrl: string;
  paynowReference?: string;
  merchantTrace: string;
  /**
   * True when the initiation's answer was lost and the transaction was found again with
   * `trace`: only the poll URL and references are known then (no browser URL, no instructions).
   */
  recovered: boolean;
  /** The message the result was read from, to keep as the raw Paynow record. */
  message: PaynowMessage;
}

export interface WebInitiated extends Initiated {
  /** Where to send the payer. Absent only when {@link Initiated.recovered}. */
  browserUrl?: string;
}

export interface ExpressInitiated extends Initiated {
  /** What to tell the payer (e.g. "Dial *151*2*4#..."). */
  instructions?: string;
  /** InnBucks only: the code the payer enters in the InnBucks app, and until when. */
  authorizationCode?: string;
  authorizationExpires?: string;
}

/** A status message: poll response, trace response or result POST (they share their fields). */
export interface PaynowStatus {
  reference: string;
  amount: string;
  paynowReference: string;
  pollUrl: string;
  /** Paynow's status string as sent (`"Paid"`, `"Awaiting Delivery"` ...). */
  status: string;
  outcome: PaynowOutcome;
  message: PaynowMessage;
}

export class PaynowClient {
  readonly integrationId: string;
  readonly baseUrl: string;
  readonly #key: string;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #retryDelayMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: PaynowClientOptions) {
    if (!options.integrationId || !options.integrationKey) {
      throw new PaynowError("invalid_request", "Paynow integration id and key are required.");
    }
    this.integrationId = options.integrationId;
    this.#key = options.integrationKey;
    this.baseUrl = (options.baseUrl ?? PAYNOW_BASE_URL).replace(/\/+$/, "");
    this.#timeoutMs = options.timeoutMs ?? 20_000;
    this.#retries = options.retries ?? 2;
    this.#retryDelayMs = options.retryDelayMs ?? 500;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  /** Starts a redirect checkout: send the payer to `browserUrl`, then poll `pollUrl`. */
  async initiateWeb(request: CheckoutRequest): Promise<WebInitiated> {
    const trace = merchantTraceOf(request);
    const fields = [...commonFields(this.integrationId, request), ...tailFields(trace)];
    const outcome = await this.#initiate("/interface/initiatetransaction", fields, trace, request);
    if (outcome.recovered) return outcome;
    const { message } = outcome;
    const browserUrl = required(message, "browserurl");
    return { ...initiated(message, trace), browserUrl };
  }

  /** Starts an express checkout: Paynow pushes a USSD prompt to `phone`; poll `pollUrl`. */
  async initiateExpress(request: ExpressCheckoutRequest): Promise<ExpressInitiated> {
    if (!EXPRESS_METHODS.includes(request.method)) {
      throw new PaynowError(
        "invalid_request",
        `Unknown express checkout method "${request.method}".`,
      );
    }
    if (!request.authEmail?.trim()) {
      throw new PaynowError("invalid_request", "Express checkout needs an auth e-mail.");
    }
    const phone = parseZimbabweMobile(request.phone);
    if (!phone.ok) throw new PaynowError("invalid_request", phone.message);
    const trace = merchantTraceOf(request);
    const fields = [
      ...commonFields(this.integrationId, request),
      ["phone", phone.local] as const,
      ["method", request.method] as const,
      ...tailFields(trace),
    ];
    const outcome = await this.#initiate("/interface/remotetransaction", fields, trace, request);
    if (outcome.recovered) return outcome;
    const { values } = outcome.message;
    return {
      ...initiated(outcome.message, trace),
      instructions: values.instructions,
      authorizationCode: values.authorizationcode,
      authorizationExpires: values.authorizationexpires,
    };
  }

  /**
   * Asks Paynow for the transaction's current status. Only URLs on Paynow's own origin are
   * polled: a poll URL comes back from storage, and must not become a way to make us POST
   * anywhere.
   */
  async poll(pollUrl: string): Promise<PaynowStatus> {
    let url: URL;
    try {
      url = new URL(pollUrl);
    } catch {
      throw new PaynowError("invalid_request", `Not a poll URL: ${pollUrl}`);
    }
    if (url.origin !== new URL(this.baseUrl).origin) {
      throw new PaynowError("invalid_request", `Poll URL is not on ${this.baseUrl}: ${pollUrl}`);
    }
    const reply = await this.#exchange(url.href, "", true);
    return parseStatusMessage(reply, this.#key, { errorAllowed: true });
  }

  /**
   * Finds a transaction by the `merchanttrace` sent when it was initiated, for when its poll URL
   * was lost. `null` when Paynow has no such transaction.
   */
  async trace(merchantTrace: string): Promise<PaynowStatus | null> {
    const fields = signFields(
      [["id", this.integrationId], ["merchanttrace", merchantTrace], ["status", "Message"]],
      this.#key,
    );
    const reply = await this.#exchange(
      `${this.baseUrl}/interface/trace`,
      encodeMessage(fields),
      true,
    );
    if (parseMessage(reply).values.status?.trim().toLowerCase() === "notfound") return null;
    return parseStatusMessage(reply, this.#key, { errorAllowed: true });
  }

  /**
   * Reads a result POST (the raw body): throws `invalid_hash` unless Paynow signed it. Result
   * POSTs are unreliable and forgeable in principle: confirm with {@link poll} before acting.
   */
  parseResultPost(body: string | URLSearchParams): PaynowStatus {
    return parseStatusMessage(body, this.#key, { errorAllowed: false });
  }

  async #initiate(
    path: string,
    fields: PaynowFields,
    merchantTrace: string,
    request: CheckoutRequest,
  ): Promise<{ recovered: false; message: PaynowMessage } | Initiated & { recovered: true }> {
    const body = encodeMessage(signFields(fields, this.#key));
    let reply: string;
    try {
      // One attempt only: repeating an initiation could push a second USSD prompt or create a
      // second transaction.
      reply = await this.#exchange(`${this.baseUrl}${path}`, body, false);
    } catch (error) {
      const unanswered = error instanceof PaynowError &&
        (error.code === "network" || (error.code === "http_error" && error.httpStatus! >= 500));
      if (!unanswered) throw error;
      return await this.#recover(merchantTrace, request.reference, error);
    }
    const message = parseMessage(reply);
    checkReply(message, this.#key, true);
    return { recovered: false, message };
  }

  /** The answer to an initiation was lost: ask Paynow whether the transaction exists. */
  async #recover(
    merchantTrace: string,
    reference: string,
    lost: PaynowError,
  ): Promise<Initiated & { recovered: true }> {
    let found: PaynowStatus | null;
    try {
      await sleep(this.#retryDelayMs);
      found = await this.trace(merchantTrace);
    } catch (error) {
      throw new PaynowError(
        "network",
        `Paynow did not answer the initiation of ${reference} and could not be asked whether it ` +
          `was created (${errorText(error)}). Do not initiate it again; trace it later.`,
        { transactionCreated: "unknown", cause: lost },
      );
    }
    if (found === null) {
      throw new PaynowError(
        "network",
        `Paynow did not answer the initiation of ${reference} (${lost.message}) and has no such ` +
          `transaction: it may be initiated again with the same reference.`,
        { transactionCreated: false, cause: lost },
      );
    }
    if (found.reference !== reference) {
      throw new PaynowError(
        "network",
        `Tracing ${merchantTrace} found reference ${found.reference}, not ${reference}.`,
        { transactionCreated: "unknown", cause: lost },
      );
    }
    return {
      status: "Ok",
      pollUrl: found.pollUrl,
      paynowReference: found.paynowReference,
      merchantTrace,
      recovered: true,
      message: found.message,
    };
  }

  /** One POST, with a time limit per attempt; network failures retried only if `repeatable`. */
  async #exchange(url: string, body: string, repeatable: boolean): Promise<string> {
    const attempts = repeatable ? this.#retries + 1 : 1;
    for (let attempt = 1;; attempt++) {
      const controller = new AbortController();
      const timer = setTimeout(
        () => controller.abort(new Error(`no answer within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
      let status: number;
      let text: string;
      try {
        const response = await this.#fetch(url, {
          method: "POST",
          headers: { "content-type": FORM_CONTENT_TYPE },
          body,
          signal: controller.signal,
        });
        status = response.status;
        text = await response.text();
      } catch (error) {
        if (attempt >= attempts) {
          throw new PaynowError(
            "network",
            `Paynow did not answer ${pathOf(url)} after ${attempt} attempt(s): ${errorText(error)}`,
            { cause: error },
          );
        }
        await sleep(this.#retryDelayMs * 2 ** (attempt - 1));
        continue;
      } finally {
        clearTimeout(timer);
      }
      if (status < 200 || status > 299) {
        throw new PaynowError("http_error", `Paynow answered HTTP ${status} to ${pathOf(url)}.`, {
          httpStatus: status,
        });
      }
      return text;
    }
  }
}

/**
 * Reads a status message (poll or trace answer, result POST) signed with `integrationKey`.
 * Exported for result POSTs when several integrations share one result URL.
 */
export function parseStatusMessage(
  body: string | URLSearchParams,
  integrationKey: string,
  { errorAllowed }: { errorAllowed: boolean },
): PaynowStatus {
  const message = parseMessage(body);
  checkReply(message, integrationKey, errorAllowed);
  const status = required(message, "status");
  return {
    reference: required(message, "reference"),
    amount: required(message, "amount"),
    paynowReference: required(message, "paynowreference"),
    pollUrl: required(message, "pollurl"),
    status,
    outcome: paynowOutcome(status),
    message,
  };
}

/** Throws unless the message is a signed, non-error message (or an allowed `Error` reply). */
function checkReply(message: PaynowMessage, key: string, errorAllowed: boolean): void {
  const status = message.values.status?.trim().toLowerCase();
  if (status === "error" && errorAllowed) {
    const text = message.values.error?.trim() || "Paynow refused the request without a reason.";
    throw new PaynowError("rejected", `Paynow refused: ${text}`, { paynowError: text });
  }
  if (!verifyPaynowHash(message.fields, key)) {
    throw new PaynowError(
      "invalid_hash",
      message.values.hash === undefined
        ? "Paynow message carries no hash."
        : "Paynow message hash does not match: not sent by Paynow with our key.",
    );
  }
  if (status === undefined) throw new PaynowError("malformed", "Paynow message has no status.");
}

function initiated(message: PaynowMessage, merchantTrace: string): Initiated {
  const status = message.values.status.trim();
  if (status.toLowerCase() !== "ok") {
    throw new PaynowError("malformed", `Paynow answered the initiation with status "${status}".`);
  }
  return {
    status: "Ok",
    pollUrl: required(message, "pollurl"),
    paynowReference: message.values.paynowreference,
    merchantTrace,
    recovered: false,
    message,
  };
}

/** The SDKs' field order: `resulturl, returnurl, reference, amount, id, additionalinfo, authemail`. */
function commonFields(id: string, request: CheckoutRequest): PaynowFields {
  if (!request.reference?.trim()) {
    throw new PaynowError("invalid_request", "A payment reference is required.");
  }
  return [
    ["resulturl", httpUrl(request.resultUrl, "result URL")],
    ["returnurl", httpUrl(request.returnUrl, "return URL")],
    ["reference", request.reference],
    ["amount", formatAmount(request.amount)],
    ["id", id],
    ["additionalinfo", request.additionalInfo ?? ""],
    ["authemail", request.authEmail?.trim() ?? ""],
  ];
}

function tailFields(merchantTrace: string): PaynowFields {
  return [["merchanttrace", merchantTrace], ["status", "Message"]];
}

function merchantTraceOf(request: CheckoutRequest): string {
  const trace = request.merchantTrace ?? request.reference;
  if (trace.length > 32) {
    throw new PaynowError(
      "invalid_request",
      "merchantTrace must be at most 32 characters: pass one when the reference is longer.",
    );
  }
  return trace;
}

/** Two decimals, no symbol: `5` → `"5.00"`; refuses zero, negatives and fractions of a cent. */
export function formatAmount(amount: string | number): string {
  const text = typeof amount === "number" ? String(amount) : amount.trim();
  const match = /^(\d+)(?:\.(\d{1,2}))?$/.exec(text);
  if (!match || (typeof amount === "number" && !Number.isFinite(amount))) {
    throw new PaynowError("invalid_request", `Amount must be positive with at most two decimals.`);
  }
  const cents = BigInt(match[1]) * 100n + BigInt((match[2] ?? "").padEnd(2, "0"));
  if (cents <= 0n) throw new PaynowError("invalid_request", "Amount must be more than zero.");
  return `${cents / 100n}.${String(cents % 100n).padStart(2, "0")}`;
}

function httpUrl(value: string, what: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === "http:" || url.protocol === "https:") return value;
  } catch {
    // fall through
  }
  throw new PaynowError("invalid_request", `The ${what} must be an http(s) URL: ${value}`);
}

function required(message: PaynowMessage, name: string): string {
  const value = message.values[name];
  if (value === undefined || value === "") {
    throw new PaynowError("malformed", `Paynow message has no ${name}.`);
  }
  return value;
}

function pathOf(url: string): string {
  return new URL(url).pathname;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
