/**
 * Slack's Web API, the one method Hurukuro calls: `chat.postMessage`
 * (https://api.slack.com/methods/chat.postMessage).
 *
 * Slack answers HTTP 200 even when it refuses (`{"ok":false,"error":"channel_not_found"}`), so
 * `ok` decides, not the status. A rate limit is HTTP 429 with a `Retry-After` header (seconds).
 * Each failure says whether sending again can help (`retryable`): a rate limit, a 5xx or a
 * network failure can; a bad token or an unknown channel cannot.
 *
 * Plain `fetch` rather than `@slack/web-api`: one method, and that SDK's own retry queue would
 * hide rate limits from the job queue that retries our deliveries. Imports nothing of ours but
 * leaves (lib/retry_after.ts, lib/chat_api.ts).
 *
 * @example
 * const slack = createSlackClient({ token: "xoxb-…" });
 * const { ts } = await slack.postMessage({ channel: "#alerts", text: "*Payment failed*" });
 */

import { ChatApiError, type ChatApiFailure, type ChatApiOptions, postJson } from "../chat_api.ts";
import { retryAfterMs } from "../retry_after.ts";

/** `retryAfterSeconds` is Slack's `Retry-After`. */
export interface SlackFailure extends ChatApiFailure {
  /** Slack's error code (`channel_not_found`, `ratelimited`, …). */
  error?: string;
}

export class SlackError extends ChatApiError<SlackFailure> {
  override name = "SlackError";
}

/** `apiUrl` is `https://slack.com/api` unless given. */
export type SlackClientOptions = ChatApiOptions;

export interface PostMessage {
  /** A channel id (`C0123…`) or name (`#alerts`). */
  channel: string;
  /** Slack mrkdwn. */
  text: string;
  /** Whether `text` is mrkdwn (default true). */
  mrkdwn?: boolean;
}

export interface PostedMessage {
  /** The message's timestamp: its id within the channel. */
  ts: string;
  channel: string;
}

/** Slack errors that pass by themselves; every other `ok:false` needs a person to act. */
const TRANSIENT = new Set([
  "ratelimited",
  "internal_error",
  "fatal_error",
  "service_unavailable",
  "request_timeout",
]);

export interface SlackClient {
  postMessage(message: PostMessage): Promise<PostedMessage>;
}

export function createSlackClient(options: SlackClientOptions): SlackClient {
  const apiUrl = (options.apiUrl ?? "https://slack.com/api").replace(/\/+$/, "");
  return {
    async postMessage(message) {
      const res = await postJson(
        options,
        `${apiUrl}/chat.postMessage`,
        {
          authorization: `Bearer ${options.token}`,
          "content-type": "application/json; charset=utf-8",
        },
        { channel: message.channel, text: message.text, mrkdwn: message.mrkdwn ?? true },
        (why) => new SlackError(`Slack ${why}`, { retryable: true }),
      );
      const wait = retryAfterMs(res.headers);
      const retryAfterSeconds = wait ? wait / 1000 : undefined;
      const body = await res.json().catch(() => null) as
        | { ok?: boolean; error?: string; ts?: string; channel?: string }
        | null;
      if (res.status === 429) {
        throw new SlackError("Slack rate limit (HTTP 429)", {
          status: 429,
          error: body?.error ?? "ratelimited",
          retryAfterSeconds,
          retryable: true,
        });
      }
      if (res.status >= 500 || !body) {
        throw new SlackError(`Slack answered HTTP ${res.status}`, {
          status: res.status,
          error: body?.error,
          retryable: res.status >= 500 || res.status === 408,
        });
      }
      if (body.ok !== true || typeof body.ts !== "string") {
        const error = typeof body.error === "string" ? body.error.slice(0, 100) : "unknown_error";
        throw new SlackError(`Slack refused the message: ${error}`, {
          status: res.status,
          error,
          retryAfterSeconds,
          retryable: TRANSIENT.has(error),
        });
      }
      return { ts: body.ts, channel: body.channel ?? message.channel };
    },
  };
}
