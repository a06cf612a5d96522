/**
 * WhatsApp through Twilio's Messaging API (the alternative provider).
 *
 * Wire facts: shared/protocols.md §3, from https://www.twilio.com/docs/usage/security and
 * https://www.twilio.com/docs/messaging/guides/webhook-request.
 *
 * - Webhooks are signed: `X-Twilio-Signature` = base64(HMAC-SHA1(auth token, the full URL Twilio
 *   called + every POST field name and value, sorted by name)). Twilio adds fields without notice,
 *   so we sign over whatever arrived, never over a list of fields we know. Like the official
 *   helper (`twilio.validateRequest`), the URL is tried as given, without its port and with the
 *   scheme's default port, because proxies and load balancers disagree about ports.
 * - Twilio has no reply buttons or lists without pre-approved content templates, so menus are
 *   sent as numbered text (menu.ts) and the user answers with a number.
 * - A typing indicator exists (public beta, `POST messaging.twilio.com/v2/Indicators/Typing.json`,
 *   which also marks the message read); there is no read-only call, so `markRead` without typing
 *   does nothing.
 * - Media URLs are fetched with Basic auth, which is only ever sent to the Twilio API origin (and
 *   any origins configured), never to where a redirect points (Twilio redirects to its CDN).
 */
import { TWILIO_TEXT_LIMIT } from "./format.ts";
import { hmac, timingSafeEqual, toBase64 } from "./crypto.ts";
import {
  call,
  e164,
  type HttpContext,
  num,
  obj,
  readCapped,
  readJson,
  retryAfterMs,
  str,
} from "./http.ts";
import { renderNumberedMenu } from "./menu.ts";
import { storable } from "./storable.ts";
import {
  type DownloadedMedia,
  type DownloadOptions,
  type InboundBase,
  type InboundMessage,
  type MediaRef,
  type OutboundMessage,
  type ParsedWebhook,
  type RawWebhook,
  type SendResult,
  type StatusUpdate,
  WhatsAppError,
  type WhatsAppProvider,
} from "./types.ts";

export const DEFAULT_TWILIO_API_URL = "https://api.twilio.com";
export const DEFAULT_TWILIO_MESSAGING_URL = "https://messaging.twilio.com";
/** Twilio's ceiling for inbound WhatsApp media is 16 MB. */
export const DEFAULT_TWILIO_MAX_MEDIA_BYTES = 16 * 1024 * 1024;

export interface TwilioOptions {
  accountSid: string;
  /** Signs webhooks and authenticates API calls. */
  authToken: string;
  /** Our WhatsApp sender, E.164 ("+14155238886") or "whatsapp:+…". */
  from: string;
  /** Default https://api.twilio.com; the fake Twilio's URL in tests and sandbox. */
  apiUrl?: string;
  /** Typing indicators live here; default https://messaging.twilio.com. */
  messagingUrl?: string;
  /** Sent with every message so delivery statuses come back. */
  statusCallback?: string;
  /** Template name → Content SID ("HX…"), for `{type: "template"}` messages. */
  contentSids?: Record<string, string>;
  /** Send the typing indicator (public beta) from `markRead(id, {typing: true})`; default true. */
  typingIndicator?: boolean;
  /** Origins besides `apiUrl`'s that may receive our credentials for media downloads. */
  mediaOrigins?: string[];
  maxMediaBytes?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

// ---------------------------------------------------------------------------------------------
// Webhook: signature

export type FormParams = URLSearchParams | Record<string, string | string[]>;

/** Field name → values, in arrival order, from either form representation. */
function fieldsOf(params: FormParams): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  const entries = params instanceof URLSearchParams
    ? [...params]
    : Object.entries(params).flatMap(([k, v]) =>
      (Array.isArray(v) ? v : [v]).map((x) => [k, x] as [string, string])
    );
  for (const [key, value] of entries) {
    const list = fields.get(key);
    if (list) list.push(value);
    else fields.set(key, [value]);
  }
  return fields;
}

/**
 * The string Twilio signs: the URL, then each field name followed by its value, names sorted
 * (by UTF-16 code units, as JavaScript and Twilio's helpers sort). A repeated field contributes
 * each distinct value once, values sorted — what `twilio.getExpectedTwilioSignature` does.
 */
export function twilioSigningString(url: string, params: FormParams): string {
  const fields = fieldsOf(params);
  let data = url;
  for (const key of [...fields.keys()].sort()) {
    for (const value of [...new Set(fields.get(key))].sort()) data += key + value;
  }
  return data;
}

/** `X-Twilio-Signature` for a request to `url` with these form fields. */
export async function twilioSignature(
  authToken: string,
  url: string,
  params: FormParams,
): Promise<string> {
  return toBase64(await hmac("SHA-1", authToken, twilioSigningString(url, params)));
}

/**
 * `url`, and `url` without its port and with the scheme's default port: Twilio signs the URL it
 * was configured with, which a proxy in front of us may have given or stripped a port.
 */
function urlVariants(url: string): string[] {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(url);
  if (!match) return [url];
  const [, scheme, authority, rest] = match;
  const at = authority.lastIndexOf("@");
  const userInfo = authority.slice(0, at + 1);
  const hostPort = authority.slice(at + 1);
  const colon = hostPort.indexOf(":", hostPort.lastIndexOf("]") + 1);
  const host = colon === -1 ? hostPort : hostPort.slice(0, colon);
  const defaultPort = scheme.toLowerCase() === "https://" ? ":443" : ":80";
  return [
    ...new Set([
      url,
      scheme + userInfo + host + rest,
      scheme + userInfo + host + defaultPort + rest,
    ]),
  ];
}

/**
 * Whether `header` is Twilio's signature of this request. `url` must be the public URL Twilio
 * called (from PUBLIC_URL, with its query string), not the one the server saw behind a proxy.
 * Never throws.
 */
export async function verifyTwilioSignature(
  authToken: string,
  url: string,
  params: FormParams,
  header: string | null | undefined,
): Promise<boolean> {
  if (!authToken || !header) return false;
  const given = new TextEncoder().encode(header.trim());
  for (const candidate of urlVariants(url)) {
    const expected = new TextEncoder().encode(await twilioSignature(authToken, candidate, params));
    if (timingSafeEqual(given, expected)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Webhook: parsing

const decoder = new TextDecoder();

/** Raw form bytes (or text) as fields; `+` and percent escapes decoded as browsers do. */
export function parseForm(body: Uint8Array | string): URLSearchParams {
  return new URLSearchParams(typeof body === "string" ? body : decoder.decode(body));
}

const STATUS_MAP: Record<string, StatusUpdate["status"]> = {
  sent: "sent",
  delivered: "delivered",
  read: "read",
  failed: "failed",
  undelivered: "failed",
};

/**
 * Translates a Twilio webhook — an inbound message or a status callback (`MessageStatus`) —
 * into our types. Never throws. `receivedAt` stamps messages: Twilio sends no time. Text comes
 * out storable (NUL and lone surrogates replaced, see storable.ts).
 */
export function parseTwilioWebhook(
  params: URLSearchParams,
  receivedAt = Date.now(),
): ParsedWebhook {
  return storable(parseFields(params, receivedAt));
}

function parseFields(params: URLSearchParams, receivedAt: number): ParsedWebhook {
  const out: ParsedWebhook = { messages: [], statuses: [], problems: [] };
  try {
    const field = (name: string) => str(params.get(name) ?? undefined);
    const sid = field("MessageSid") ?? field("SmsMessageSid") ?? field("SmsSid");
    const messageStatus = field("MessageStatus")?.toLowerCase();
    if (messageStatus && messageStatus !== "received") {
      const status = STATUS_MAP[messageStatus];
      if (!sid) out.problems.push("status callback without MessageSid skipped");
      else if (!status) out.problems.push(`status ${JSON.stringify(messageStatus)} ignored`);
      else {
        const code = num(params.get("ErrorCode"));
        out.statuses.push({
          provider: "twilio",
          messageId: sid,
          status,
          recipient: e164(field("To")),
          timestamp: receivedAt,
          errors: code ? [{ code, title: field("ErrorMessage") ?? `Twilio error ${code}` }] : [],
        });
      }
      return out;
    }
    const message = parseTwilioMessage(field, sid, receivedAt);
    if (message) out.messages.push(message);
    else out.problems.push("message without MessageSid or From skipped");
  } catch (error) {
    out.problems.push(`body skipped: ${error instanceof Error ? error.message : error}`);
  }
  return out;
}

function parseTwilioMessage(
  field: (name: string) => string | undefined,
  sid: string | undefined,
  receivedAt: number,
): InboundMessage | undefined {
  const from = e164(field("From") ?? field("WaId"));
  if (!sid || !from) return undefined;
  const profileName = field("ProfileName");
  const replied = field("OriginalRepliedMessageSid");
  const base: InboundBase = {
    provider: "twilio",
    id: sid,
    from,
    to: e164(field("To")),
    ...(profileName ? { profileName } : {}),
    timestamp: receivedAt,
    ...(replied ? { context: { id: replied } } : {}),
  };
  const body = field("Body");

  const buttonPayload = field("ButtonPayload");
  const buttonText = field("ButtonText");
  if (buttonPayload || buttonText) {
    return {
      ...base,
      type: "button_reply",
      buttonId: buttonPayload ?? buttonText ?? "",
      title: buttonText ?? body ?? "",
    };
  }
  const listId = field("ListId");
  if (listId) {
    const description = field("ListDescription");
    return {
      ...base,
      type: "list_reply",
      rowId: listId,
      title: field("ListTitle") ?? body ?? "",
      ...(description ? { description } : {}),
    };
  }
  const latitude = num(field("Latitude"));
  const longitude = num(field("Longitude"));
  if (latitude !== undefined && longitude !== undefined) {
    const name = field("Label");
    const address = field("Address");
    return {
      ...base,
      type: "location",
      latitude,
      longitude,
      ...(name ? { name } : {}),
      ...(address ? { address } : {}),
    };
  }
  if ((num(field("NumMedia")) ?? 0) > 0) {
    const url = field("MediaUrl0");
    const mimeType = field("MediaContentType0");
    if (!url) {
      return { ...base, type: "unsupported", originalType: "media", reason: "media without URL" };
    }
    const media: MediaRef = { source: "url", url, ...(mimeType ? { mimeType } : {}) };
    const caption = body ? { caption: body } : {};
    const major = mimeType?.split("/")[0].toLowerCase();
    if (major === "image") return { ...base, type: "image", media, ...caption };
    if (major === "audio") return { ...base, type: "audio", media };
    if (major === "video") {
      return { ...base, type: "unsupported", originalType: "video", reason: "video not handled" };
    }
    return { ...base, type: "document", media, ...caption };
  }
  if (body !== undefined) return { ...base, type: "text", text: body };
  const type = field("MessageType") ?? "unknown";
  return { ...base, type: "unsupported", originalType: type, reason: `empty ${type} message` };
}

// ---------------------------------------------------------------------------------------------
// Outbound

function invalid(message: string): WhatsAppError {
  return new WhatsAppError("invalid_message", message, { provider: "twilio" });
}

const CONTENT_SID = /^HX[0-9a-fA-F]{32}$/;

/**
 * The form fields of a Messages API call for `message` (without From/To). Menus become numbered
 * text; templates need a Content SID (given as the name, or mapped by `contentSids`).
 */
export function twilioMessageFields(
  message: OutboundMessage,
  contentSids: Record<string, string> = {},
): Record<string, string> {
  switch (message.type) {
    case "text":
      return { Body: checkBody(message.text) };
    case "buttons":
    case "list":
      if (message.type === "buttons" && message.buttons.length === 0) {
        throw invalid("a menu needs at least one choice");
      }
      if (message.type === "list" && message.sections.every((s) => s.rows.length === 0)) {
        throw invalid("a menu needs at least one choice");
      }
      return { Body: checkBody(renderNumberedMenu(message)) };
    case "template": {
      const sid = CONTENT_SID.test(message.name) ? message.name : contentSids[message.name];
      if (!sid) {
        throw invalid(`no Twilio Content SID for template "${message.name}" (set contentSids)`);
      }
      const variables = Object.fromEntries(
        (message.parameters ?? []).map((value, i) => [String(i + 1), value]),
      );
      return {
        ContentSid: sid,
        ...(Object.keys(variables).length ? { ContentVariables: JSON.stringify(variables) } : {}),
      };
    }
  }
}

function checkBody(text: string): string {
  if (!text.trim()) throw invalid("text must not be empty");
  if (text.length > TWILIO_TEXT_LIMIT) {
    throw invalid(
      `text is ${text.length} chars, over Twilio's ${TWILIO_TEXT_LIMIT}: split it first`,
    );
  }
  return text;
}

/** Twilio's "too many requests" (20429) and WhatsApp rate limit (63018). */
const RATE_LIMIT_CODES = new Set([20429, 63018]);

/** Maps a failed Twilio answer (`{code, message, more_info, status}`) to a `WhatsAppError`. */
export function twilioApiError(status: number, body: unknown, headers = new Headers()) {
  const b = obj(body);
  const code = num(b?.code);
  const text = `Twilio: ${str(b?.message) ?? `HTTP ${status}`}${code ? ` (${code})` : ""}`;
  const options = { provider: "twilio" as const, status, ...(code ? { code } : {}) };
  const retryAfter = retryAfterMs(headers);
  if (status === 429 || (code !== undefined && RATE_LIMIT_CODES.has(code))) {
    return new WhatsAppError("rate_limited", text, {
      ...options,
      retryAfterMs: retryAfter ?? 1_000,
    });
  }
  if (code === 63016) return new WhatsAppError("outside_window", text, options);
  if (status === 401 || code === 20003) return new WhatsAppError("unauthorized", text, options);
  if (status >= 500) {
    return new WhatsAppError("server", text, {
      ...options,
      ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }),
    });
  }
  return new WhatsAppError("rejected", text, options);
}

// ---------------------------------------------------------------------------------------------
// The provider

const MAX_REDIRECTS = 3;

export class TwilioProvider implements WhatsAppProvider {
  readonly name = "twilio" as const;
  readonly textLimit = TWILIO_TEXT_LIMIT;
  readonly interactive = false;
  readonly #options: TwilioOptions;
  readonly #apiUrl: string;
  readonly #messagingUrl: string;
  readonly #authorization: string;
  readonly #http: HttpContext;
  readonly #mediaOrigins: Set<string>;

  constructor(options: TwilioOptions) {
    for (const key of ["accountSid", "authToken", "from"] as const) {
      if (!options[key]) throw new Error(`TwilioProvider: ${key} is required`);
    }
    this.#options = options;
    this.#apiUrl = (options.apiUrl ?? DEFAULT_TWILIO_API_URL).replace(/\/+$/, "");
    this.#messagingUrl = (options.messagingUrl ?? DEFAULT_TWILIO_MESSAGING_URL).replace(/\/+$/, "");
    this.#authorization = "Basic " +
      toBase64(new TextEncoder().encode(`${options.accountSid}:${options.authToken}`));
    this.#http = {
      provider: "twilio",
      fetch: options.fetch ?? fetch,
      timeoutMs: options.timeoutMs ?? 15_000,
    };
    this.#mediaOrigins = new Set(
      [this.#apiUrl, ...(options.mediaOrigins ?? [])].map((u) => new URL(u).origin),
    );
  }

  verifySignature(request: RawWebhook): Promise<boolean> {
    return verifyTwilioSignature(
      this.#options.authToken,
      request.url,
      parseForm(request.body),
      request.headers.get("x-twilio-signature"),
    );
  }

  parseInbound(request: RawWebhook): ParsedWebhook {
    return parseTwilioWebhook(parseForm(request.body), request.receivedAt);
  }

  async send(to: string, message: OutboundMessage): Promise<SendResult> {
    const recipient = e164(to);
    if (!recipient) throw invalid(`"${to}" is not a phone number`);
    const form = new URLSearchParams({
      To: `whatsapp:${recipient}`,
      From: `whatsapp:${e164(this.#options.from)}`,
      ...twilioMessageFields(message, this.#options.contentSids),
      ...(this.#options.statusCallback ? { StatusCallback: this.#options.statusCallback } : {}),
    });
    const body = await this.#post(
      `${this.#apiUrl}/2010-04-01/Accounts/${
        encodeURIComponent(this.#options.accountSid)
      }/Messages.json`,
      form,
    );
    const sid = str(obj(body)?.sid);
    if (!sid) {
      throw new WhatsAppError("bad_response", "Twilio: send answered without a sid", {
        provider: "twilio",
      });
    }
    return { providerMessageId: sid };
  }

  async markRead(messageId: string, options: { typing: boolean }): Promise<void> {
    if (!options.typing || this.#options.typingIndicator === false) return;
    await this.#post(
      `${this.#messagingUrl}/v2/Indicators/Typing.json`,
      new URLSearchParams({ messageId, channel: "whatsapp" }),
    );
  }

  async downloadMedia(ref: MediaRef, options: DownloadOptions = {}): Promise<DownloadedMedia> {
    if (ref.source !== "url") throw invalid("Twilio media is downloaded by URL");
    const maxBytes = options.maxBytes ?? this.#options.maxMediaBytes ??
      DEFAULT_TWILIO_MAX_MEDIA_BYTES;
    let url = new URL(ref.url);
    if (!this.#mediaOrigins.has(url.origin)) {
      throw invalid(`refusing to send Twilio credentials to ${url.origin}`);
    }
    for (let hop = 0;; hop++) {
      const trusted = this.#mediaOrigins.has(url.origin);
      const response = await call(this.#http, url.href, {
        redirect: "manual",
        headers: trusted ? { authorization: this.#authorization } : {},
      });
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location) {
        await response.body?.cancel();
        if (hop >= MAX_REDIRECTS) {
          throw new WhatsAppError("bad_response", "Twilio: too many media redirects", {
            provider: "twilio",
          });
        }
        url = new URL(location, url);
        continue;
      }
      if (!response.ok) {
        throw twilioApiError(
          response.status,
          await readJson(this.#http, response),
          response.headers,
        );
      }
      const bytes = await readCapped(this.#http, response, maxBytes);
      return {
        bytes,
        mimeType: response.headers.get("content-type")?.split(";")[0].trim() || ref.mimeType ||
          "application/octet-stream",
      };
    }
  }

  async #post(url: string, form: URLSearchParams): Promise<unknown> {
    const response = await call(this.#http, url, {
      method: "POST",
      headers: {
        authorization: this.#authorization,
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
      },
      body: form.toString(),
    });
    const body = await readJson(this.#http, response);
    if (!response.ok) throw twilioApiError(response.status, body, response.headers);
    return body;
  }
}
