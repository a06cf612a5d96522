/**
 * A fake Slack Web API on a real loopback port, for tests and the sandbox: `chat.postMessage`
 * as Slack speaks it (https://api.slack.com/methods/chat.postMessage), so production differs only by SLACK_API_URL.
 *
 * - `POST /api/chat.postMessage`, JSON (bearer token) or form-encoded (`token` field): HTTP 200
 *   with `{"ok":true,"channel","ts","message"}`, or HTTP 200 with `{"ok":false,"error"}` for a
 *   missing or wrong token (`not_authed`, `invalid_auth`), an unknown channel
 *   (`channel_not_found`, when `channels` is given) or no text (`no_text`).
 * - A rate limit is HTTP 429 with a `Retry-After` header and `{"ok":false,"error":"ratelimited"}`.
 * - `GET /_fake/messages` lists what was posted (for a person poking at the sandbox).
 *
 * Test controls: {@link FakeSlack.failNext} (the next N calls answer 500, 429 with Retry-After,
 * or an `ok:false` error), {@link FakeSlack.calls} (every call with its time and answer), and
 * {@link FakeSlack.waitForMessages}.
 *
 * @example
 * const slack = await startFakeSlack();
 * const client = createSlackClient({ token: slack.token, apiUrl: slack.url });
 * slack.failNext(1, { status: 429, retryAfterSeconds: 2 });
 */

import { ChatFake, type ChatFakeOptions } from "./chat_fake.ts";

export interface FakeSlackOptions extends ChatFakeOptions<RecordedSlackMessage> {
  /** The bot token to accept (default a random `xoxb-…`). */
  token?: string;
  /** If given, posts to other channels fail with `channel_not_found`. */
  channels?: string[];
}

/** What the next calls answer instead of posting. */
export type SlackScriptedFailure =
  | { status: 500 | 502 | 503 }
  | { status: 429; retryAfterSeconds: number }
  | { error: string };

export interface RecordedSlackMessage {
  channel: string;
  text: string;
  ts: string;
  payload: Record<string, unknown>;
  receivedAt: number;
}

export interface RecordedSlackCall {
  at: number;
  status: number;
  /** `ok:false` error code, if any. */
  error?: string;
}

export class FakeSlack
  extends ChatFake<RecordedSlackMessage, RecordedSlackCall, SlackScriptedFailure> {
  readonly token: string;
  readonly #channels?: Set<string>;
  #seq = 0;

  private constructor(options: FakeSlackOptions) {
    super("fake Slack", options);
    this.token = options.token ?? `xoxb-sandbox-${crypto.randomUUID()}`;
    this.#channels = options.channels ? new Set(options.channels) : undefined;
  }

  static start(options: FakeSlackOptions = {}): Promise<FakeSlack> {
    return Promise.resolve(new FakeSlack(options));
  }

  /** The API base to configure as SLACK_API_URL, e.g. `http://127.0.0.1:43121/api`. */
  override get url(): string {
    return `${super.url}/api`;
  }

  #answer(status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) {
    this.recordCall({
      at: performance.now(),
      status,
      ...(body.ok === false ? { error: String(body.error) } : {}),
    });
    return Response.json(body, { status, headers });
  }

  protected async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.method === "GET" && url.pathname === "/_fake/messages") {
      return Response.json({ messages: this.messages.slice(-200) });
    }
    if (url.pathname !== "/api/chat.postMessage") {
      return Response.json({ ok: false, error: "unknown_method" }, { status: 404 });
    }
    if (request.method !== "POST") {
      return Response.json({ ok: false, error: "method_not_supported_for_channel_type" });
    }
    const type = request.headers.get("content-type") ?? "";
    let payload: Record<string, unknown>;
    try {
      payload = type.startsWith("application/json")
        ? await request.json()
        : Object.fromEntries(new URLSearchParams(await request.text()));
      if (payload === null || typeof payload !== "object") throw new Error("not an object");
    } catch {
      return this.#answer(200, { ok: false, error: "invalid_json" });
    }
    const bearer = request.headers.get("authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1];
    const token = bearer ?? (typeof payload.token === "string" ? payload.token : undefined);

    const failure = this.nextFailure();
    if (failure) {
      if ("error" in failure) return this.#answer(200, { ok: false, error: failure.error });
      if (failure.status === 429) {
        return this.#answer(429, { ok: false, error: "ratelimited" }, {
          "retry-after": String(failure.retryAfterSeconds),
        });
      }
      return this.#answer(failure.status, { ok: false, error: "internal_error" });
    }
    if (!token) return this.#answer(200, { ok: false, error: "not_authed" });
    if (token !== this.token) return this.#answer(200, { ok: false, error: "invalid_auth" });
    const channel = typeof payload.channel === "string" ? payload.channel : "";
    if (!channel || (this.#channels && !this.#channels.has(channel))) {
      return this.#answer(200, { ok: false, error: "channel_not_found" });
    }
    const text = typeof payload.text === "string" ? payload.text : "";
    if (!text.trim()) return this.#answer(200, { ok: false, error: "no_text" });
    if (text.length > 40_000) return this.#answer(200, { ok: false, error: "msg_too_long" });

    const ts = `${Math.floor(Date.now() / 1000)}.${String(++this.#seq).padStart(6, "0")}`;
    const message = { channel, text, ts, payload, receivedAt: performance.now() };
    this.accept(message);
    return this.#answer(200, {
      ok: true,
      channel,
      ts,
      message: { type: "message", text, ts, bot_id: "B0SANDBOX" },
    });
  }
}

export function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  return FakeSlack.start(options);
}
