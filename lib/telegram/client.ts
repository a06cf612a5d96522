/**
 * The Telegram Bot API (https://core.telegram.org/bots/api): `sendMessage`, and the check of the secret
 * Telegram sends with every webhook delivery. Notifications use the first; the Telegram chat
 * channel uses both.
 *
 * Every answer is `{"ok":true,"result":…}` or `{"ok":false,"error_code":N,"description":"…"}`;
 * a rate limit adds `"parameters":{"retry_after":N}` (seconds). Each failure says whether
 * sending again can help (`retryable`): a 429, a 5xx or a network failure can; a 400 (chat not
 * found, unparsable HTML), 401 or 403 (the bot was blocked) cannot.
 *
 * The token is part of every URL (`/bot<token>/…`), so no message or error this module makes
 * ever carries the URL. Plain `fetch` rather than grammy: two calls do not need a framework.
 * Imports nothing of ours but a leaf (lib/chat_api.ts).
 *
 * @example
 * const telegram = createTelegramClient({ token: "123:abc" });
 * await telegram.sendMessage({ chat_id: 42, text: "<b>Paid</b>", parse_mode: "HTML" });
 */

import { ChatApiError, type ChatApiFailure, type ChatApiOptions, postJson } from "../chat_api.ts";

/** The header carrying the `secret_token` given to `setWebhook`. */
export const TELEGRAM_SECRET_HEADER = "x-telegram-bot-api-secret-token";

/** Telegram's longest message text (after entity parsing). */
export const TELEGRAM_TEXT_LIMIT = 4096;

/** `retryAfterSeconds` is Telegram's `parameters.retry_after`. */
export interface TelegramFailure extends ChatApiFailure {
  /** `error_code` of Telegram's answer. */
  errorCode?: number;
  /** Telegram's `description` (e.g. "Bad Request: chat not found"). */
  description?: string;
}

export class TelegramError extends ChatApiError<TelegramFailure> {
  override name = "TelegramError";
}

/** `apiUrl` is `https://api.telegram.org` unless given. */
export type TelegramClientOptions = ChatApiOptions;

export interface SendMessage {
  chat_id: number | string;
  text: string;
  parse_mode?: "HTML" | "MarkdownV2";
  link_preview_options?: { is_disabled?: boolean };
  /** A reply keyboard (`{keyboard: [[{text}]], one_time_keyboard}`) or its removal. */
  reply_markup?: Record<string, unknown>;
}

export interface TelegramMessage {
  message_id: number;
  chat: { id: number | string; type?: string };
  date?: number;
  text?: string;
}

export interface TelegramClient {
  sendMessage(message: SendMessage): Promise<TelegramMessage>;
}

export function createTelegramClient(options: TelegramClientOptions): TelegramClient {
  const apiUrl = (options.apiUrl ?? "https://api.telegram.org").replace(/\/+$/, "");

  async function call<T>(method: string, params: object): Promise<T> {
    const res = await postJson(
      options,
      `${apiUrl}/bot${options.token}/${method}`,
      { "content-type": "application/json" },
      params,
      (why) => new TelegramError(`Telegram ${why}`, { retryable: true }),
    );
    const body = await res.json().catch(() => null) as
      | {
        ok?: boolean;
        result?: T;
        error_code?: number;
        description?: string;
        parameters?: { retry_after?: number };
      }
      | null;
    if (body?.ok === true && body.result !== undefined) return body.result;
    const retryAfter = body?.parameters?.retry_after;
    const description = typeof body?.description === "string"
      ? body.description.slice(0, 200)
      : undefined;
    const errorCode = typeof body?.error_code === "number" ? body.error_code : res.status;
    throw new TelegramError(
      `Telegram refused ${method}: ${description ?? `HTTP ${res.status}`}`,
      {
        status: res.status,
        errorCode,
        description,
        retryAfterSeconds: typeof retryAfter === "number" && retryAfter > 0
          ? retryAfter
          : undefined,
        retryable: errorCode === 429 || res.status === 429 || res.status >= 500 || !body,
      },
    );
  }

  return {
    sendMessage: (message) => call<TelegramMessage>("sendMessage", message),
  };
}

/**
 * Whether a webhook delivery carries the secret set with `setWebhook` (compared in constant
 * time). A delivery without it did not come from Telegram.
 */
export function hasWebhookSecret(headers: Headers, secret: string): boolean {
  const sent = headers.get(TELEGRAM_SECRET_HEADER);
  if (sent === null || secret === "") return false;
  const a = new TextEncoder().encode(sent);
  const b = new TextEncoder().encode(secret);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i % Math.max(a.length, 1)] ?? 0) ^ b[i];
  return diff === 0;
}
