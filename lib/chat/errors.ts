/**
 * What can stop an answer, in the caller's terms. `ChatError` is an {@link AppError} (so the web
 * layer answers it like any other: 402, 429, 503 ...) that also carries the chat's own code and
 * the sentence to show the user, on the web and on WhatsApp alike.
 */
import { AiError, AiRateLimitError, USER_MESSAGES } from "../ai/mod.ts";
import { AppError, type ErrorCode, type ErrorDetails } from "../errors.ts";

export const CHAT_ERROR_CODES = [
  "insufficient_funds",
  "rate_limited",
  "not_configured",
  "unavailable",
  "timeout",
  "context_too_long",
  "cap_reached",
  "account_disabled",
] as const;
export type ChatErrorCode = typeof CHAT_ERROR_CODES[number];

const APP_CODE: Record<ChatErrorCode, ErrorCode> = {
  insufficient_funds: "insufficient_balance",
  rate_limited: "rate_limited",
  cap_reached: "rate_limited",
  not_configured: "unavailable",
  unavailable: "upstream_unavailable",
  timeout: "upstream_unavailable",
  context_too_long: "bad_request",
  account_disabled: "forbidden",
};

/** What a disabled account is told (the sign-in refusal says the same). */
export const ACCOUNT_DISABLED_MESSAGE = "This account is disabled. Contact support to restore it.";

export class ChatError extends AppError {
  override name = "ChatError";
  constructor(
    readonly chatCode: ChatErrorCode,
    /** What the user is told. */
    message: string,
    details?: ErrorDetails,
  ) {
    super(APP_CODE[chatCode], message, { reason: chatCode, ...details });
  }

  get userMessage(): string {
    return this.message;
  }
}

/** The chat's code for an upstream failure. */
export function chatCodeOf(error: AiError): ChatErrorCode {
  switch (error.code) {
    case "rate_limited":
      return (error as AiRateLimitError).quota ? "not_configured" : "rate_limited";
    case "context_too_long":
      return "context_too_long";
    case "timeout":
      return "timeout";
    case "upstream_down":
      return "unavailable";
    default:
      return "not_configured";
  }
}

export function fromAiError(error: AiError): ChatError {
  const details = error.retryAfterMs
    ? { retryAfterSeconds: Math.ceil(error.retryAfterMs / 1000) }
    : undefined;
  return new ChatError(chatCodeOf(error), error.userMessage, details);
}

export const NOT_CONFIGURED_MESSAGE = USER_MESSAGES.misconfigured;
