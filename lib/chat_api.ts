/**
 * What the clients of the chat platforms' bot APIs (lib/slack, lib/telegram) share: how one is
 * configured, how a call fails, and a JSON POST under a deadline. Imports nothing of ours.
 */

/** A bot API client's configuration. */
export interface ChatApiOptions {
  /** The bot's token (Slack's `xoxb-…`, Telegram's `123456:ABC…` from @BotFather). */
  token: string;
  /** The API base (SLACK_API_URL, TELEGRAM_API_URL); the platform's own by default. */
  apiUrl?: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** What a failed call tells; each platform's failure adds its own error fields. */
export interface ChatApiFailure {
  /** HTTP status, when the platform answered. */
  status?: number;
  /** How long the platform asked us to wait before sending again. */
  retryAfterSeconds?: number;
  /** Whether sending again can help (a rate limit, a 5xx, no answer). */
  retryable: boolean;
}

/** A failed call: each platform's client throws its own subclass. */
export class ChatApiError<F extends ChatApiFailure> extends Error {
  constructor(message: string, readonly failure: F) {
    super(message);
  }
}

/**
 * POSTs `body` as JSON within the client's `timeoutMs` (15 s unless given). When no answer comes
 * it throws `unreachable("timed out")` or `unreachable("could not be reached")`, never the fetch
 * error itself: its text names the URL, and Telegram's URL holds the token.
 */
export async function postJson(
  options: ChatApiOptions,
  url: string,
  headers: Record<string, string>,
  body: unknown,
  unreachable: (why: string) => Error,
): Promise<Response> {
  try {
    return await (options.fetch ?? fetch)(url, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    });
  } catch (error) {
    const timedOut = (error as Error)?.name === "TimeoutError";
    throw unreachable(timedOut ? "timed out" : "could not be reached");
  }
}
