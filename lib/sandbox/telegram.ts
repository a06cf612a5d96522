/**
 * A fake Telegram Bot API on a real loopback port, for tests and the sandbox, speaking Telegram's
 * wire format (https://core.telegram.org/bots/api) so production differs only by TELEGRAM_API_URL.
 *
 * - `POST /bot<token>/sendMessage` (JSON, form or query): `{"ok":true,"result":{message_id,…}}`,
 *   or `{"ok":false,"error_code","description"}` with the same HTTP status: 401 for a wrong
 *   token, 400 for an empty chat or text, a text over 4,096 characters, an unknown chat (when
 *   `chats` is given) or HTML that Telegram cannot parse (`parse_mode: "HTML"` allows only its
 *   few tags, properly nested, and the entities `&lt; &gt; &amp; &quot;`).
 * - A `reply_markup` must be a keyboard Telegram can read (`keyboard` rows of buttons with a
 *   `text`, `remove_keyboard`, or `inline_keyboard`), else 400 "can't parse reply keyboard
 *   markup JSON object"; a chat that blocked the bot ({@link FakeTelegram.block}) answers 403.
 * - A rate limit is HTTP 429 with `{"ok":false,"error_code":429,"parameters":{"retry_after":N}}`.
 * - `setWebhook` / `deleteWebhook` / `getMe`, and {@link FakeTelegram.deliverUpdate}, which
 *   POSTs an update to the registered webhook with the secret header, as Telegram does.
 * - `GET /_fake/messages` lists what was sent (for a person poking at the sandbox).
 *
 * Test controls: {@link FakeTelegram.failNext} (the next N calls answer 500 or 429),
 * {@link FakeTelegram.calls} and {@link FakeTelegram.waitForMessages}.
 */

import { ChatFake, type ChatFakeOptions } from "./chat_fake.ts";

export interface FakeTelegramOptions extends ChatFakeOptions<RecordedTelegramMessage> {
  /** The bot token to accept (default a random `123456:…`). */
  token?: string;
  /** If given, sends to other chats fail with "Bad Request: chat not found". */
  chats?: (number | string)[];
}

export type TelegramScriptedFailure =
  | { status: 500 | 502 }
  | { status: 429; retryAfterSeconds: number };

export interface RecordedTelegramMessage {
  messageId: number;
  chatId: string;
  /** The text as sent (with its HTML, if any). */
  text: string;
  parseMode: string | null;
  payload: Record<string, unknown>;
  receivedAt: number;
}

export interface RecordedTelegramCall {
  at: number;
  method: string;
  status: number;
  description?: string;
}

/** Tags `parse_mode: "HTML"` accepts (Telegram Bot API, "HTML style"). */
const HTML_TAGS = new Set([
  "b",
  "strong",
  "i",
  "em",
  "u",
  "ins",
  "s",
  "strike",
  "del",
  "span",
  "tg-spoiler",
  "a",
  "code",
  "pre",
  "blockquote",
  "tg-emoji",
]);

/** The text Telegram would show for `html`, or why it refuses to parse it. */
export function parseTelegramHtml(html: string): { text: string } | { error: string } {
  const open: string[] = [];
  let text = "";
  const pattern =
    /<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^>]*)?)>|&(#\d+|#x[0-9a-fA-F]+|[a-z]+);|[<>&]/g;
  let last = 0;
  for (const m of html.matchAll(pattern)) {
    text += html.slice(last, m.index);
    last = m.index! + m[0].length;
    if (m[0] === "<" || m[0] === ">" || m[0] === "&") {
      if (m[0] === ">") {
        text += ">";
        continue;
      }
      return {
        error: `can't parse entities: ${
          m[0] === "<" ? "Unsupported start tag" : "Unsupported entity"
        } at byte offset ${m.index}`,
      };
    }
    if (m[4] !== undefined) {
      const entity = m[4];
      const named = new Map(Object.entries({ lt: "<", gt: ">", amp: "&", quot: '"' }));
      if (entity.startsWith("#")) {
        const code = entity[1] === "x" ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1));
        text += String.fromCodePoint(code);
      } else if (named.has(entity)) text += named.get(entity);
      else return { error: `can't parse entities: Unsupported entity at byte offset ${m.index}` };
      continue;
    }
    const [, closing, name] = m;
    const tag = name.toLowerCase();
    if (!HTML_TAGS.has(tag)) {
      return {
        error: `can't parse entities: Unsupported start tag "${tag}" at byte offset ${m.index}`,
      };
    }
    if (closing) {
      if (open.pop() !== tag) {
        return {
          error: `can't parse entities: Unexpected end tag at byte offset ${m.index}`,
        };
      }
    } else open.push(tag);
  }
  text += html.slice(last);
  if (open.length > 0) {
    return {
      error: `can't parse entities: Can't find end tag corresponding to start tag ${open.pop()}`,
    };
  }
  return { text };
}

/** Whether Telegram could read `markup` (an object, or its JSON as a form field carries it). */
function readableMarkup(markup: unknown): boolean {
  let value = markup;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return false;
    }
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const m = value as Record<string, unknown>;
  const rows = (key: string) =>
    Array.isArray(m[key]) && (m[key] as unknown[]).length > 0 &&
    (m[key] as unknown[]).every((row) =>
      Array.isArray(row) && row.every((b) =>
        typeof b === "object" && b !== null && typeof (b as { text?: unknown }).text === "string" &&
        (b as { text: string }).text.length > 0
      )
    );
  return rows("keyboard") || rows("inline_keyboard") || m.remove_keyboard === true ||
    m.force_reply === true;
}

export class FakeTelegram
  extends ChatFake<RecordedTelegramMessage, RecordedTelegramCall, TelegramScriptedFailure> {
  readonly token: string;
  readonly #chats?: Set<string>;
  readonly #blocked = new Set<string>();
  #webhook: { url: string; secret: string | null } | null = null;
  #messageId = 0;
  #updateId = 0;

  private constructor(options: FakeTelegramOptions) {
    super("fake Telegram", options);
    this.token = options.token ??
      `${100000 + Math.floor(Math.random() * 900000)}:sandbox-${crypto.randomUUID()}`;
    this.#chats = options.chats ? new Set(options.chats.map(String)) : undefined;
  }

  static start(options: FakeTelegramOptions = {}): Promise<FakeTelegram> {
    return Promise.resolve(new FakeTelegram(options));
  }

  /** The webhook registered with `setWebhook`, if any. */
  get webhook(): { url: string; secret: string | null } | null {
    return this.#webhook;
  }

  /** The user of `chatId` blocks the bot: sends to it answer 403 from now on. */
  block(chatId: number | string): void {
    this.#blocked.add(String(chatId));
  }

  /**
   * Delivers an update to the registered webhook as Telegram does (JSON POST, the secret in
   * `X-Telegram-Bot-Api-Secret-Token`); returns the webhook's answer.
   */
  async deliverUpdate(update: Record<string, unknown>): Promise<Response> {
    if (!this.#webhook) throw new Error("fake Telegram: no webhook set");
    return await fetch(this.#webhook.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(this.#webhook.secret
          ? { "x-telegram-bot-api-secret-token": this.#webhook.secret }
          : {}),
      },
      body: JSON.stringify({ update_id: ++this.#updateId, ...update }),
    });
  }

  #answer(method: string, status: number, body: Record<string, unknown>) {
    this.recordCall({
      at: performance.now(),
      method,
      status,
      ...(body.ok === false ? { description: String(body.description) } : {}),
    });
    return Response.json(body, { status });
  }

  #refuse(method: string, status: number, description: string, extra = {}) {
    return this.#answer(method, status, { ok: false, error_code: status, description, ...extra });
  }

  async #params(request: Request, url: URL): Promise<Record<string, unknown> | null> {
    const type = request.headers.get("content-type") ?? "";
    try {
      if (type.startsWith("application/json")) {
        const body = await request.json();
        return body !== null && typeof body === "object" ? body : null;
      }
      const form = type.startsWith("application/x-www-form-urlencoded")
        ? new URLSearchParams(await request.text())
        : url.searchParams;
      return Object.fromEntries(form);
    } catch {
      return null;
    }
  }

  protected async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.method === "GET" && url.pathname === "/_fake/messages") {
      return Response.json({ messages: this.messages.slice(-200) });
    }
    const m = url.pathname.match(/^\/bot([^/]+)\/([A-Za-z]+)$/);
    if (!m) {
      return Response.json({ ok: false, error_code: 404, description: "Not Found" }, {
        status: 404,
      });
    }
    const [, token, method] = m;
    if (token !== this.token) return this.#refuse(method, 401, "Unauthorized");
    const failure = this.nextFailure();
    if (failure) {
      if (failure.status === 429) {
        return this.#refuse(
          method,
          429,
          `Too Many Requests: retry after ${failure.retryAfterSeconds}`,
          { parameters: { retry_after: failure.retryAfterSeconds } },
        );
      }
      return this.#refuse(method, failure.status, "Internal Server Error");
    }
    const params = await this.#params(request, url);
    if (!params) return this.#refuse(method, 400, "Bad Request: invalid JSON");
    switch (method) {
      case "getMe":
        return this.#answer(method, 200, {
          ok: true,
          result: { id: Number(this.token.split(":")[0]), is_bot: true, first_name: "Hurukuro" },
        });
      case "setWebhook":
        this.#webhook = {
          url: String(params.url ?? ""),
          secret: typeof params.secret_token === "string" ? params.secret_token : null,
        };
        return this.#answer(method, 200, {
          ok: true,
          result: true,
          description: "Webhook was set",
        });
      case "deleteWebhook":
        this.#webhook = null;
        return this.#answer(method, 200, { ok: true, result: true });
      case "sendMessage":
        return this.#sendMessage(params);
      default:
        return this.#refuse(method, 404, "Not Found: method not found");
    }
  }

  #sendMessage(params: Record<string, unknown>): Response {
    const method = "sendMessage";
    const chatId = params.chat_id === undefined || params.chat_id === ""
      ? ""
      : String(params.chat_id);
    if (!chatId) return this.#refuse(method, 400, "Bad Request: chat_id is empty");
    const raw = typeof params.text === "string" ? params.text : "";
    const parseMode = typeof params.parse_mode === "string" ? params.parse_mode : null;
    let shown = raw;
    if (parseMode === "HTML") {
      const parsed = parseTelegramHtml(raw);
      if ("error" in parsed) return this.#refuse(method, 400, `Bad Request: ${parsed.error}`);
      shown = parsed.text;
    } else if (parseMode !== null && parseMode !== "MarkdownV2" && parseMode !== "Markdown") {
      return this.#refuse(method, 400, "Bad Request: unsupported parse_mode");
    }
    if (!shown.trim()) return this.#refuse(method, 400, "Bad Request: message text is empty");
    if (shown.length > 4096) return this.#refuse(method, 400, "Bad Request: message is too long");
    if (this.#chats && !this.#chats.has(chatId)) {
      return this.#refuse(method, 400, "Bad Request: chat not found");
    }
    if (params.reply_markup !== undefined && !readableMarkup(params.reply_markup)) {
      return this.#refuse(
        method,
        400,
        "Bad Request: can't parse reply keyboard markup JSON object",
      );
    }
    if (this.#blocked.has(chatId)) {
      return this.#refuse(method, 403, "Forbidden: bot was blocked by the user");
    }
    const messageId = ++this.#messageId;
    const message: RecordedTelegramMessage = {
      messageId,
      chatId,
      text: raw,
      parseMode,
      payload: params,
      receivedAt: performance.now(),
    };
    this.accept(message);
    return this.#answer(method, 200, {
      ok: true,
      result: {
        message_id: messageId,
        from: { id: Number(this.token.split(":")[0]), is_bot: true, first_name: "Hurukuro" },
        chat: { id: /^-?\d+$/.test(chatId) ? Number(chatId) : chatId, type: "private" },
        date: Math.floor(Date.now() / 1000),
        text: shown,
      },
    });
  }
}

export function startFakeTelegram(options: FakeTelegramOptions = {}): Promise<FakeTelegram> {
  return FakeTelegram.start(options);
}
