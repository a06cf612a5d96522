/**
 * Typed failures of an AI upstream. Each says whether a retry can help (`retryable`) and carries
 * a `userMessage` an end user may read (web chat, WhatsApp) — never the upstream's own text,
 * which can name keys, models or internals.
 * The `message` is for logs and operators.
 */
import type { ProviderName, Usage } from "./types.ts";

export type AiErrorCode =
  | "bad_key"
  | "rate_limited"
  | "context_too_long"
  | "upstream_down"
  | "timeout"
  | "not_configured"
  | "not_supported"
  | "bad_request"
  | "aborted";

export const USER_MESSAGES = {
  unavailable: "I'm having trouble connecting right now. Please try again in a moment.",
  rateLimited: "I'm receiving a lot of messages. Please wait a moment before sending another.",
  misconfigured: "The service is temporarily unavailable. Please contact support.",
  // Seed 002 says "Let me try again..." because its caller retries after showing it; ours has
  // already retried by the time this surfaces, so it asks the user instead.
  timeout: "This is taking longer than expected. Please try again in a moment.",
  contextTooLong:
    "This conversation has become too long for me to follow. Please start a new chat.",
  notSupported: "This feature is not available with the current AI provider.",
  aborted: "The answer was stopped.",
} as const;

export interface AiErrorOptions {
  provider?: ProviderName;
  /** HTTP status of the upstream answer, when there was one. */
  status?: number;
  /** How long the upstream asked us to wait (`retry-after-ms` / `retry-after`). */
  retryAfterMs?: number;
  cause?: unknown;
}

export abstract class AiError extends Error {
  abstract readonly code: AiErrorCode;
  abstract readonly userMessage: string;
  /** Whether the same request may succeed if sent again (before any output was shown). */
  readonly retryable: boolean = false;
  readonly provider?: ProviderName;
  readonly status?: number;
  /** How long the upstream asked us to wait; the web layer can pass it on as `Retry-After`. */
  readonly retryAfterMs?: number;
  /**
   * Set when the failure came after some of the answer had been streamed: what the partial
   * answer cost (output counted locally, so `estimated` is true). Bill this, not nothing.
   */
  partialUsage?: Usage;
  /** How many upstream requests were made before giving up. */
  attempts = 1;

  constructor(message: string, options: AiErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.provider = options.provider;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** A kind of failure: its code, what its user is told, and whether a retry can help. */
function aiErrorKind<C extends AiErrorCode>(
  code: C,
  userMessage: string,
  { retryable = false } = {},
) {
  return class extends AiError {
    readonly code = code;
    readonly userMessage = userMessage;
    override readonly retryable = retryable;
  };
}

/** 401/403: the API key is wrong, revoked or lacks access. Retrying cannot help. */
export class AiBadKeyError extends aiErrorKind("bad_key", USER_MESSAGES.misconfigured) {}

/**
 * 429. A rate limit passes (retryable, `retryAfterMs` says when); an exhausted quota or credit
 * balance (`quota: true`, OpenAI's `insufficient_quota`) does not until someone pays.
 */
export class AiRateLimitError extends AiError {
  readonly code = "rate_limited";
  override readonly retryable: boolean;
  readonly userMessage: string;
  constructor(message: string, readonly quota: boolean, options?: AiErrorOptions) {
    super(message, options);
    this.retryable = !quota;
    this.userMessage = quota ? USER_MESSAGES.misconfigured : USER_MESSAGES.rateLimited;
  }
}

/** The prompt does not fit the model's context window: trim the history and try again. */
export class AiContextTooLongError
  extends aiErrorKind("context_too_long", USER_MESSAGES.contextTooLong) {}

/** 5xx, overloaded, connection refused or reset, a stream that ended before the answer did. */
export class AiUpstreamError
  extends aiErrorKind("upstream_down", USER_MESSAGES.unavailable, { retryable: true }) {}

/** The upstream stayed silent longer than `timeoutMs`. */
export class AiTimeoutError
  extends aiErrorKind("timeout", USER_MESSAGES.timeout, { retryable: true }) {}

/** No API key or model configured, or a provider name we do not know. */
export class AiNotConfiguredError
  extends aiErrorKind("not_configured", USER_MESSAGES.misconfigured) {}

/** The provider has no such API (Anthropic has no embeddings). */
export class AiNotSupportedError extends aiErrorKind("not_supported", USER_MESSAGES.notSupported) {}

/** Any other 4xx (unknown model, invalid parameter): a bug or a misconfiguration on our side. */
export class AiBadRequestError extends aiErrorKind("bad_request", USER_MESSAGES.misconfigured) {}

/** The caller aborted (user pressed stop, client went away). */
export class AiAbortedError extends aiErrorKind("aborted", USER_MESSAGES.aborted) {}

export interface HttpFailure {
  status: number;
  message: string;
  retryAfterMs?: number;
  /** The provider's own signal that the prompt is too long (parsed by the adapter). */
  contextTooLong?: boolean;
  /** An exhausted quota or credit balance, not a passing rate limit (whatever the status). */
  quota?: boolean;
  provider: ProviderName;
  cause?: unknown;
}

/** Maps an upstream HTTP failure to its typed error; adapters supply the provider specifics. */
export function errorFromHttp(failure: HttpFailure): AiError {
  const { status, message, provider, cause, retryAfterMs } = failure;
  const options = { provider, status, cause, retryAfterMs };
  if (failure.contextTooLong) return new AiContextTooLongError(message, options);
  if (status === 401 || status === 403) return new AiBadKeyError(message, options);
  if (status === 429 || failure.quota) {
    return new AiRateLimitError(message, failure.quota ?? false, options);
  }
  // 408 (request timeout) and 409 (lock timeout) pass like a 5xx; the SDKs retry them too.
  if (status >= 500 || status === 408 || status === 409) {
    return new AiUpstreamError(message, options);
  }
  return new AiBadRequestError(message, options);
}
