/**
 * A fake Twilio Messaging API on a real loopback port, for tests and the sandbox.
 *
 * Speaks Twilio's wire format (https://www.twilio.com/docs/messaging/api) with Twilio's answers:
 *
 * - `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` — Basic auth `AccountSid:AuthToken`,
 *   form body; 201 with Twilio's message JSON (`sid: "SM…"`, `status: "queued"`), or Twilio's
 *   error shape `{code, message, more_info, status}` for what Twilio refuses (missing To/From/
 *   Body 21604/21603/21619, body over 1600 chars 21617, mixed channels 21910, bad
 *   ContentVariables 21656, bad credentials 20003).
 * - `POST /v2/Indicators/Typing.json` — the WhatsApp typing indicator (on messaging.twilio.com
 *   in production; the same fake URL serves both).
 * - Media: {@link FakeTwilio.addMedia} returns a `MediaUrl` like Twilio's
 *   (`/2010-04-01/Accounts/AC…/Messages/MM…/Media/ME…`) that wants Basic auth and redirects to a
 *   second loopback server — a different origin, like Twilio's CDN — which records whether
 *   credentials leaked into the redirect.
 *
 * Test controls: {@link FakeTwilio.failNext} (429/20429, 500, 401, 63016), and
 * {@link FakeTwilio.waitForMessages}. Like the real service, the fake refuses an out-of-window
 * message at once only when told to (`failNext(1, "outside_window")`); real Twilio mostly
 * reports 63016 later in a status callback.
 *
 * @example
 * await using twilio = await startFakeTwilio();
 * const provider = new TwilioProvider({ apiUrl: twilio.url, messagingUrl: twilio.url,
 *   accountSid: twilio.accountSid, authToken: twilio.authToken, from: "+14155238886" });
 * const [sent] = await twilio.waitForMessages(1);
 */
import { Recorded } from "./recorded.ts";
import { WhatsAppFake } from "./whatsapp_fake.ts";

export interface FakeTwilioOptions {
  /** Default: a fixed "AC…" test SID. */
  accountSid?: string;
  /** Default "test-twilio-token". */
  authToken?: string;
  /** Oldest records are dropped beyond this many (default 10 000). */
  maxRecords?: number;
  /** Larger request bodies get 413 (default 256 KiB). */
  maxBodyBytes?: number;
}

export interface RecordedTwilioMessage {
  sid: string;
  to: string;
  from: string;
  body: string;
  contentSid?: string;
  contentVariables?: Record<string, string>;
  mediaUrls: string[];
  statusCallback?: string;
  /** Every form field as received. */
  params: Record<string, string>;
  receivedAt: number;
}

export interface RecordedTyping {
  messageId: string;
  channel: string;
  receivedAt: number;
}

export type TwilioFailure = "rate_limit" | "server_error" | "unauthorized" | "outside_window";

class TwilioError extends Error {
  constructor(readonly status: number, readonly code: number, message: string) {
    super(message);
  }
}

const MORE_INFO = "https://www.twilio.com/docs/errors/";
const BODY_LIMIT = 1600;

function hex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

export class FakeTwilio extends WhatsAppFake<RecordedTwilioMessage> {
  readonly accountSid: string;
  readonly authToken: string;
  readonly #cdn: Deno.HttpServer<Deno.NetAddr>;
  readonly #maxBodyBytes: number;
  readonly #typing: Recorded<RecordedTyping>;
  readonly #failures: TwilioFailure[] = [];
  readonly #media = new Map<string, { bytes: Uint8Array; contentType: string }>();
  readonly #cdnTokens = new Map<string, string>();
  #cdnSawCredentials = false;

  private constructor(options: FakeTwilioOptions) {
    super("fake Twilio", (m) => m.body, { maxRecords: options.maxRecords });
    this.accountSid = options.accountSid ?? "AC00000000000000000000000000000001";
    this.authToken = options.authToken ?? "test-twilio-token";
    this.#maxBodyBytes = options.maxBodyBytes ?? 256 * 1024;
    this.#typing = new Recorded("fake Twilio: typing indicators", options.maxRecords);
    this.#cdn = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request) => this.#handleCdn(request),
    );
  }

  static start(options: FakeTwilioOptions = {}): Promise<FakeTwilio> {
    return Promise.resolve(new FakeTwilio(options));
  }

  get typingIndicators(): readonly RecordedTyping[] {
    return this.#typing.items;
  }

  /** Whether any request to the "CDN" carried an Authorization header (it must not). */
  get cdnSawCredentials(): boolean {
    return this.#cdnSawCredentials;
  }

  /** The next `count` message sends fail as `kind`. */
  failNext(count: number, kind: TwilioFailure = "rate_limit"): void {
    for (let i = 0; i < count; i++) this.#failures.push(kind);
  }

  /** Stores an inbound attachment; returns the `MediaUrl0` Twilio would put in the webhook. */
  addMedia(bytes: Uint8Array, contentType: string): string {
    const path = `/2010-04-01/Accounts/${this.accountSid}/Messages/MM${hex(16)}/Media/ME${hex(16)}`;
    this.#media.set(path, { bytes, contentType });
    return this.url + path;
  }

  override reset(): void {
    super.reset();
    this.#typing.clear();
    this.#failures.length = 0;
    this.#media.clear();
    this.#cdnTokens.clear();
    this.#cdnSawCredentials = false;
  }

  override async close(): Promise<void> {
    await Promise.all([super.close(), this.#cdn.shutdown()]);
  }

  // -------------------------------------------------------------------------------------------

  protected async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    try {
      const media = this.#media.get(url.pathname);
      if (media && request.method === "GET") {
        this.#authenticate(request);
        // Twilio answers a media URL with a redirect to a short-lived CDN URL.
        const token = hex(16);
        this.#cdnTokens.set(token, url.pathname);
        return new Response(null, {
          status: 307,
          headers: { location: `http://127.0.0.1:${this.#cdn.addr.port}/${token}` },
        });
      }
      const messages = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(url.pathname);
      if (messages && request.method === "POST") {
        this.#authenticate(request);
        if (messages[1] !== this.accountSid) {
          throw new TwilioError(404, 20404, `The requested resource ${url.pathname} was not found`);
        }
        return this.#createMessage(await this.#readForm(request));
      }
      if (url.pathname === "/v2/Indicators/Typing.json" && request.method === "POST") {
        this.#authenticate(request);
        return this.#typingIndicator(await this.#readForm(request));
      }
      throw new TwilioError(404, 20404, `The requested resource ${url.pathname} was not found`);
    } catch (error) {
      const e = error instanceof TwilioError
        ? error
        : new TwilioError(500, 20500, `Internal Server Error: ${error}`);
      return Response.json(
        { code: e.code, message: e.message, more_info: MORE_INFO + e.code, status: e.status },
        {
          status: e.status,
          headers: e.status === 401 ? { "www-authenticate": 'Basic realm="Twilio API"' } : {},
        },
      );
    }
  }

  #handleCdn(request: Request): Response {
    if (request.headers.has("authorization")) this.#cdnSawCredentials = true;
    const path = this.#cdnTokens.get(new URL(request.url).pathname.slice(1));
    const media = path ? this.#media.get(path) : undefined;
    if (!media) return new Response("Not Found", { status: 404 });
    return new Response(media.bytes as Uint8Array<ArrayBuffer>, {
      headers: { "content-type": media.contentType, "content-length": String(media.bytes.length) },
    });
  }

  #authenticate(request: Request): void {
    const expected = "Basic " + btoa(`${this.accountSid}:${this.authToken}`);
    if (request.headers.get("authorization") !== expected) {
      throw new TwilioError(401, 20003, "Authenticate");
    }
  }

  async #readForm(request: Request): Promise<URLSearchParams> {
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.length > this.#maxBodyBytes) {
      throw new TwilioError(413, 20413, "Request entity too large");
    }
    const type = request.headers.get("content-type") ?? "";
    if (!type.startsWith("application/x-www-form-urlencoded")) {
      throw new TwilioError(400, 20001, "Content-Type must be application/x-www-form-urlencoded");
    }
    return new URLSearchParams(new TextDecoder().decode(bytes));
  }

  #createMessage(form: URLSearchParams): Response {
    const to = form.get("To") ?? "";
    const from = form.get("From") ?? "";
    const body = form.get("Body") ?? "";
    const contentSid = form.get("ContentSid") ?? undefined;
    const mediaUrls = form.getAll("MediaUrl");
    if (!to) throw new TwilioError(400, 21604, "A 'To' phone number is required.");
    if (!from && !form.get("MessagingServiceSid")) {
      throw new TwilioError(400, 21603, "A 'From' phone number is required.");
    }
    if (from && to.startsWith("whatsapp:") !== from.startsWith("whatsapp:")) {
      throw new TwilioError(
        400,
        21910,
        "Invalid From and To pair. From and To should be of the same channel",
      );
    }
    if (!/^(whatsapp:)?\+\d{6,15}$/.test(to)) {
      throw new TwilioError(400, 21211, `Invalid 'To' Phone Number: ${to}`);
    }
    if (!body && mediaUrls.length === 0 && !contentSid) {
      throw new TwilioError(
        400,
        21619,
        "A text message body or media URL must be specified.",
      );
    }
    if (body.length > BODY_LIMIT) {
      throw new TwilioError(
        400,
        21617,
        "The concatenated message body exceeds the 1600 character limit.",
      );
    }
    let contentVariables: Record<string, string> | undefined;
    const rawVariables = form.get("ContentVariables");
    if (rawVariables !== null) {
      try {
        const parsed = JSON.parse(rawVariables);
        if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw 0;
        contentVariables = parsed;
      } catch {
        throw new TwilioError(400, 21656, "The ContentVariables Parameter is invalid.");
      }
    }
    const failure = this.#failures.shift();
    if (failure) throw failureError(failure);

    const sid = `SM${hex(16)}`;
    const statusCallback = form.get("StatusCallback") ?? undefined;
    const message: RecordedTwilioMessage = {
      sid,
      to,
      from,
      body,
      ...(contentSid ? { contentSid } : {}),
      ...(contentVariables ? { contentVariables } : {}),
      mediaUrls,
      ...(statusCallback ? { statusCallback } : {}),
      params: Object.fromEntries(form),
      receivedAt: Date.now(),
    };
    this.recordSent(message);
    const now = new Date().toUTCString().replace("GMT", "+0000");
    const uri = `/2010-04-01/Accounts/${this.accountSid}/Messages/${sid}.json`;
    return Response.json({
      account_sid: this.accountSid,
      api_version: "2010-04-01",
      body,
      date_created: now,
      date_sent: null,
      date_updated: now,
      direction: "outbound-api",
      error_code: null,
      error_message: null,
      from,
      messaging_service_sid: form.get("MessagingServiceSid"),
      num_media: String(mediaUrls.length),
      num_segments: "1",
      price: null,
      price_unit: "USD",
      sid,
      status: "queued",
      subresource_uris: { media: uri.replace(".json", "/Media.json") },
      to,
      uri,
    }, { status: 201 });
  }

  #typingIndicator(form: URLSearchParams): Response {
    const messageId = form.get("messageId") ?? "";
    const channel = form.get("channel") ?? "";
    if (channel !== "whatsapp") {
      throw new TwilioError(400, 20001, "channel must be 'whatsapp'");
    }
    if (!/^(SM|MM)[0-9a-fA-F]{32}$/.test(messageId)) {
      throw new TwilioError(400, 20001, "messageId must be a Message SID (SM…) or Media SID (MM…)");
    }
    this.#typing.push({ messageId, channel, receivedAt: Date.now() });
    return Response.json({ success: true });
  }
}

/** Starts a fake Twilio (API + CDN) on free loopback ports. */
export function startFakeTwilio(options: FakeTwilioOptions = {}): Promise<FakeTwilio> {
  return FakeTwilio.start(options);
}

function failureError(kind: TwilioFailure): TwilioError {
  switch (kind) {
    case "rate_limit":
      return new TwilioError(429, 20429, "Too Many Requests");
    case "server_error":
      return new TwilioError(500, 20500, "Internal Server Error");
    case "unauthorized":
      return new TwilioError(401, 20003, "Authenticate");
    case "outside_window":
      return new TwilioError(
        400,
        63016,
        "Failed to send freeform message because you are outside the allowed window. Please use a Template.",
      );
  }
}
