/**
 * WhatsApp through Meta's Cloud API (the default provider).
 *
 * Wire facts: shared/protocols.md §2, from
 * https://developers.facebook.com/docs/whatsapp/cloud-api/ (webhooks, messages, media, errors).
 *
 * - Webhooks are signed: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`.
 *   The check runs over the bytes as received, before any JSON parsing, in constant time.
 * - Webhook bodies are parsed defensively: Meta adds types and fields, and a delivery we throw
 *   on is one Meta retries for days. Unknown parts become `unsupported` messages or `problems`.
 * - Interactive messages are validated here against Meta's limits, so a menu that would be
 *   refused fails in our tests with a clear message instead of in production with error 100:
 *   display text is shortened with "…", structural mistakes (4 buttons, 11 rows, duplicate or
 *   overlong ids) throw `WhatsAppError("invalid_message")`.
 * - Errors are mapped to `WhatsAppError` kinds the send job can act on (see types.ts).
 *
 * Written on `fetch` rather than `whatsapp-api-js`: the surface we use is four calls, and owning
 * the parsing lets it never throw and produce our internal types directly.
 */
import { fitText, META_TEXT_LIMIT } from "./format.ts";
import { storable } from "./storable.ts";
import { fromHex, hmac, sha256, timingSafeEqual, toBase64, toHex } from "./crypto.ts";
import {
  arr,
  call,
  e164,
  type HttpContext,
  type Json,
  num,
  obj,
  readCapped,
  readJson,
  retryAfterMs,
  str,
} from "./http.ts";
import {
  believableTime,
  type DeliveryError,
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

/** Meta's limits for interactive messages (characters). */
export const META_LIMITS = {
  text: META_TEXT_LIMIT,
  interactiveBody: 1024,
  header: 60,
  footer: 60,
  buttons: 3,
  buttonTitle: 20,
  buttonId: 256,
  listButton: 20,
  sections: 10,
  rows: 10,
  sectionTitle: 24,
  rowTitle: 24,
  rowId: 200,
  rowDescription: 72,
} as const;

export const DEFAULT_GRAPH_URL = "https://graph.facebook.com";
export const DEFAULT_GRAPH_VERSION = "v23.0";
/** WhatsApp's own ceiling for documents is 100 MB; images 5 MB, audio 16 MB. */
export const DEFAULT_MAX_MEDIA_BYTES = 16 * 1024 * 1024;

export interface MetaOptions {
  /** System-user access token (`Authorization: Bearer …`). */
  accessToken: string;
  /** App secret: the key of `X-Hub-Signature-256`. */
  appSecret: string;
  /** The business phone number's id, the path of every send. */
  phoneNumberId: string;
  /** Answered by the GET handshake (`hub.verify_token`). */
  verifyToken?: string;
  /** Default https://graph.facebook.com; the fake Graph API's URL in tests and sandbox. */
  graphUrl?: string;
  /** Graph API version, "v23.0" or "23.0". */
  apiVersion?: string;
  maxMediaBytes?: number;
  /** Per call, body included (default 15 s). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

// ---------------------------------------------------------------------------------------------
// Webhook: signature and handshake

const SIGNATURE_PREFIX = "sha256=";

/**
 * Whether `header` (the `X-Hub-Signature-256` value) is the HMAC-SHA256 of exactly these body
 * bytes under `appSecret`. False for a missing, malformed or wrong signature; never throws.
 */
export async function verifyMetaSignature(
  appSecret: string,
  body: Uint8Array | string,
  header: string | null | undefined,
): Promise<boolean> {
  if (!appSecret || !header) return false;
  const value = header.trim();
  if (value.slice(0, SIGNATURE_PREFIX.length).toLowerCase() !== SIGNATURE_PREFIX) return false;
  const given = fromHex(value.slice(SIGNATURE_PREFIX.length));
  if (!given || given.length !== 32) return false;
  const expected = await hmac("SHA-256", appSecret, body);
  return timingSafeEqual(given, expected);
}

/** The header value Meta would send for `body`: `sha256=<hex>`. */
export async function metaSignature(appSecret: string, body: Uint8Array | string) {
  return SIGNATURE_PREFIX + toHex(await hmac("SHA-256", appSecret, body));
}

/**
 * The verification GET Meta makes when the webhook is configured: returns the `hub.challenge`
 * to echo (as text/plain, 200) if mode and token match, else null (answer 403).
 */
export function metaHandshake(params: URLSearchParams, verifyToken: string): string | null {
  if (!verifyToken) return null;
  if (params.get("hub.mode") !== "subscribe") return null;
  const token = params.get("hub.verify_token") ?? "";
  const a = new TextEncoder().encode(token);
  const b = new TextEncoder().encode(verifyToken);
  if (!timingSafeEqual(a, b)) return null;
  return params.get("hub.challenge");
}

// ---------------------------------------------------------------------------------------------
// Webhook: parsing

const decoder = new TextDecoder();

/**
 * Translates a Meta webhook body (raw bytes, text or already-parsed JSON) into messages and
 * statuses. Never throws: anything not understood is described in `problems` and skipped, or
 * becomes an `unsupported` message when it still has an id and a sender to answer. Text comes
 * out storable (NUL and lone surrogates replaced, see storable.ts).
 */
export function parseMetaWebhook(
  body: Uint8Array | string | unknown,
  receivedAt = Date.now(),
): ParsedWebhook {
  return storable(parseBody(body, receivedAt));
}

function parseBody(body: unknown, receivedAt: number): ParsedWebhook {
  const out: ParsedWebhook = { messages: [], statuses: [], problems: [] };
  let json: unknown = body;
  if (body instanceof Uint8Array || typeof body === "string") {
    try {
      json = JSON.parse(typeof body === "string" ? body : decoder.decode(body));
    } catch {
      out.problems.push("body is not JSON");
      return out;
    }
  }
  const root = obj(json);
  if (!root) {
    out.problems.push("body is not a JSON object");
    return out;
  }
  if (root.object !== "whatsapp_business_account") {
    out.problems.push(`unexpected object ${JSON.stringify(root.object ?? null)}`);
  }
  if (!Array.isArray(root.entry)) out.problems.push("no entry array");
  for (const entry of arr(root.entry)) {
    const changes = obj(entry)?.changes;
    if (!Array.isArray(changes)) {
      out.problems.push("entry without changes");
      continue;
    }
    for (const change of changes) {
      try {
        parseChange(obj(change), out, receivedAt);
      } catch (error) {
        // Defence in depth: a parser bug must not turn into a 500 and a week of retries.
        out.problems.push(`change skipped: ${error instanceof Error ? error.message : error}`);
      }
    }
  }
  return out;
}

function parseChange(change: Json | undefined, out: ParsedWebhook, receivedAt: number): void {
  if (!change) return void out.problems.push("change is not an object");
  if (change.field !== "messages") {
    return void out.problems.push(`ignored field ${JSON.stringify(change.field ?? null)}`);
  }
  const value = obj(change.value);
  if (!value) return void out.problems.push("change without value");
  const metadata = obj(value.metadata);
  const business = {
    to: e164(str(metadata?.display_phone_number)),
    phoneNumberId: str(metadata?.phone_number_id),
  };
  const names = new Map<string, string>();
  for (const contact of arr(value.contacts)) {
    const c = obj(contact);
    const waId = str(c?.wa_id);
    const name = str(obj(c?.profile)?.name);
    if (waId && name) names.set(e164(waId), name);
  }
  for (const raw of arr(value.messages)) {
    const message = parseMessage(obj(raw), business, names, out.problems, receivedAt);
    if (message) out.messages.push(message);
  }
  for (const raw of arr(value.statuses)) {
    const status = parseStatus(obj(raw), out.problems, receivedAt);
    if (status) out.statuses.push(status);
  }
  for (const raw of arr(value.errors)) {
    const error = parseError(obj(raw));
    out.problems.push(`Meta reported error ${error.code} ${error.title}`.trim());
  }
}

function parseMessage(
  m: Json | undefined,
  business: { to: string; phoneNumberId?: string },
  names: Map<string, string>,
  problems: string[],
  receivedAt: number,
): InboundMessage | undefined {
  const id = str(m?.id);
  const from = e164(str(m?.from));
  if (!m || !id || !from) {
    problems.push("message without id or sender skipped");
    return undefined;
  }
  const timestamp = timeOf(m.timestamp, receivedAt, `message ${id}`, problems);
  const context = obj(m.context);
  const contextId = str(context?.id);
  const base: InboundBase = {
    provider: "meta",
    id,
    from,
    to: business.to,
    ...(business.phoneNumberId ? { phoneNumberId: business.phoneNumberId } : {}),
    ...(names.has(from) ? { profileName: names.get(from) } : {}),
    timestamp,
    ...(contextId
      ? {
        context: {
          id: contextId,
          ...(str(context?.from) ? { from: e164(str(context?.from)) } : {}),
        },
      }
      : {}),
  };
  const type = str(m.type) ?? "unknown";
  const unsupported = (reason: string, originalType = type): InboundMessage => ({
    ...base,
    type: "unsupported",
    originalType,
    reason,
  });
  const part = obj(m[type]);

  switch (type) {
    case "text": {
      const text = typeof part?.body === "string" ? part.body : undefined;
      return text === undefined ? unsupported("text without body") : { ...base, type, text };
    }
    case "interactive": {
      const kind = str(part?.type) ?? "unknown";
      const reply = obj(part?.[kind]);
      const replyId = str(reply?.id);
      const title = str(reply?.title) ?? "";
      if (kind === "button_reply" && replyId) {
        return { ...base, type: "button_reply", buttonId: replyId, title };
      }
      if (kind === "list_reply" && replyId) {
        const description = str(reply?.description);
        return {
          ...base,
          type: "list_reply",
          rowId: replyId,
          title,
          ...(description ? { description } : {}),
        };
      }
      return unsupported(`interactive ${kind} not handled`, `interactive.${kind}`);
    }
    case "button": {
      // A quick-reply button of a template message.
      const text = str(part?.text) ?? "";
      const payload = str(part?.payload) ?? text;
      return payload
        ? { ...base, type: "button_reply", buttonId: payload, title: text }
        : unsupported("button without payload or text");
    }
    case "image":
    case "document":
    case "audio": {
      const mediaId = str(part?.id);
      if (!mediaId) return unsupported(`${type} without media id`);
      const mimeType = str(part?.mime_type);
      const sha = str(part?.sha256);
      const media: MediaRef = {
        source: "meta",
        id: mediaId,
        ...(mimeType ? { mimeType } : {}),
        ...(sha ? { sha256: sha } : {}),
      };
      const caption = str(part?.caption);
      if (type === "image") return { ...base, type, media, ...(caption ? { caption } : {}) };
      if (type === "audio") {
        return { ...base, type, media, ...(part?.voice === true ? { voice: true } : {}) };
      }
      const filename = str(part?.filename);
      return {
        ...base,
        type,
        media,
        ...(filename ? { filename } : {}),
        ...(caption ? { caption } : {}),
      };
    }
    case "location": {
      const latitude = num(part?.latitude);
      const longitude = num(part?.longitude);
      if (latitude === undefined || longitude === undefined) {
        return unsupported("location without coordinates");
      }
      const name = str(part?.name);
      const address = str(part?.address);
      return {
        ...base,
        type,
        latitude,
        longitude,
        ...(name ? { name } : {}),
        ...(address ? { address } : {}),
      };
    }
    default: {
      const error = arr(m.errors).map((e) => parseError(obj(e)))[0];
      return unsupported(
        error ? `${error.code} ${error.title}`.trim() : `message type ${type} not handled`,
      );
    }
  }
}

const STATUSES = new Set(["sent", "delivered", "read", "failed"]);

function parseStatus(
  s: Json | undefined,
  problems: string[],
  receivedAt: number,
): StatusUpdate | undefined {
  const messageId = str(s?.id);
  const status = str(s?.status);
  if (!s || !messageId || !status) {
    problems.push("status without id or status skipped");
    return undefined;
  }
  if (!STATUSES.has(status)) {
    problems.push(`status ${JSON.stringify(status)} ignored`);
    return undefined;
  }
  return {
    provider: "meta",
    messageId,
    status: status as StatusUpdate["status"],
    recipient: e164(str(s.recipient_id)),
    timestamp: timeOf(s.timestamp, receivedAt, `status of ${messageId}`, problems),
    errors: arr(s.errors).map((e) => parseError(obj(e))),
  };
}

/**
 * Meta's `timestamp` (unix seconds, as text) in epoch ms; the receive time when it is missing or
 * not believable (then noted in `problems`, so the webhook log says why).
 */
function timeOf(value: unknown, receivedAt: number, what: string, problems: string[]): number {
  if (value === undefined) return receivedAt;
  const seconds = num(value);
  const ms = believableTime(seconds === undefined ? undefined : seconds * 1000, receivedAt);
  if (ms !== undefined) return ms;
  problems.push(
    `${what.slice(0, 100)}: timestamp ${JSON.stringify(String(value).slice(0, 40))} ` +
      "is out of range, the receive time is used",
  );
  return receivedAt;
}

function parseError(e: Json | undefined): DeliveryError {
  const message = str(e?.message);
  const details = str(obj(e?.error_data)?.details);
  return {
    code: num(e?.code) ?? 0,
    title: str(e?.title) ?? message ?? "unknown error",
    ...(message ? { message } : {}),
    ...(details ? { details } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Outbound payloads

function invalid(message: string): WhatsAppError {
  return new WhatsAppError("invalid_message", message, { provider: "meta" });
}

function requireText(value: string | undefined, what: string): string {
  if (!value?.trim()) throw invalid(`${what} must not be empty`);
  return value;
}

function requireId(id: string, what: string, max: number): string {
  if (!id.trim()) throw invalid(`${what} id must not be empty`);
  if (id.length > max) throw invalid(`${what} id is ${id.length} chars, over Meta's ${max}`);
  return id;
}

function unique(values: string[], what: string): void {
  const seen = new Set<string>();
  for (const v of values) {
    const key = v.toLowerCase();
    if (seen.has(key)) throw invalid(`${what} must be unique, "${v}" repeats`);
    seen.add(key);
  }
}

/**
 * The JSON body of `POST /{phone-number-id}/messages` for `message` to `to` (E.164, digits or
 * "whatsapp:+…"). Shortens over-long display text; throws `WhatsAppError("invalid_message")` for
 * what cannot be shortened safely.
 */
export function metaMessagePayload(to: string, message: OutboundMessage): Json {
  const recipient = e164(to).slice(1);
  if (!recipient) throw invalid(`"${to}" is not a phone number`);
  const envelope: Json = {
    messaging_product: "whatsapp",
    recipient_type: "individual",
    to: recipient,
  };
  if (message.type !== "template" && message.replyTo) {
    envelope.context = { message_id: message.replyTo };
  }

  switch (message.type) {
    case "text": {
      requireText(message.text, "text");
      if (message.text.length > META_LIMITS.text) {
        throw invalid(
          `text is ${message.text.length} chars, over Meta's ${META_LIMITS.text}: split it first`,
        );
      }
      return {
        ...envelope,
        type: "text",
        text: { body: message.text, preview_url: message.previewUrl ?? false },
      };
    }
    case "buttons": {
      const count = message.buttons.length;
      if (count < 1 || count > META_LIMITS.buttons) {
        throw invalid(`reply buttons: ${count} given, Meta allows 1 to ${META_LIMITS.buttons}`);
      }
      const buttons = message.buttons.map((b) => ({
        type: "reply",
        reply: {
          id: requireId(b.id, "button", META_LIMITS.buttonId),
          title: fitText(requireText(b.title, "button title"), META_LIMITS.buttonTitle),
        },
      }));
      unique(buttons.map((b) => b.reply.id), "button ids");
      unique(buttons.map((b) => b.reply.title), "button titles (after shortening to 20 chars)");
      return {
        ...envelope,
        type: "interactive",
        interactive: {
          type: "button",
          ...headerFooter(message),
          body: { text: fitText(requireText(message.body, "body"), META_LIMITS.interactiveBody) },
          action: { buttons },
        },
      };
    }
    case "list": {
      const sectionCount = message.sections.length;
      if (sectionCount < 1 || sectionCount > META_LIMITS.sections) {
        throw invalid(`list: ${sectionCount} sections, Meta allows 1 to ${META_LIMITS.sections}`);
      }
      const rowCount = message.sections.reduce((n, s) => n + s.rows.length, 0);
      if (rowCount < 1 || rowCount > META_LIMITS.rows) {
        throw invalid(`list: ${rowCount} rows, Meta allows 1 to ${META_LIMITS.rows} in all`);
      }
      const sections = message.sections.map((section, i) => {
        if (section.rows.length === 0) throw invalid(`list section ${i + 1} has no rows`);
        if (sectionCount > 1 && !section.title?.trim()) {
          throw invalid("list sections need titles when there is more than one");
        }
        return {
          ...(section.title?.trim()
            ? { title: fitText(section.title, META_LIMITS.sectionTitle) }
            : {}),
          rows: section.rows.map((row) => ({
            id: requireId(row.id, "row", META_LIMITS.rowId),
            title: fitText(requireText(row.title, "row title"), META_LIMITS.rowTitle),
            ...(row.description?.trim()
              ? { description: fitText(row.description, META_LIMITS.rowDescription) }
              : {}),
          })),
        };
      });
      unique(sections.flatMap((s) => s.rows.map((r) => r.id)), "list row ids");
      return {
        ...envelope,
        type: "interactive",
        interactive: {
          type: "list",
          ...headerFooter(message),
          body: { text: fitText(requireText(message.body, "body"), META_LIMITS.interactiveBody) },
          action: {
            button: fitText(requireText(message.button, "list button"), META_LIMITS.listButton),
            sections,
          },
        },
      };
    }
    case "template": {
      requireText(message.name, "template name");
      requireText(message.language, "template language");
      const parameters = message.parameters ?? [];
      return {
        ...envelope,
        type: "template",
        template: {
          name: message.name,
          language: { code: message.language },
          ...(parameters.length
            ? {
              components: [{
                type: "body",
                parameters: parameters.map((text) => ({ type: "text", text })),
              }],
            }
            : {}),
        },
      };
    }
  }
}

function headerFooter(message: { header?: string; footer?: string }): Json {
  return {
    ...(message.header?.trim()
      ? { header: { type: "text", text: fitText(message.header, META_LIMITS.header) } }
      : {}),
    ...(message.footer?.trim()
      ? { footer: { text: fitText(message.footer, META_LIMITS.footer) } }
      : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Errors

/** Throughput limits: of the number (130429), the app (4, 80007) or spam control (131048). */
const RATE_LIMIT_CODES = new Set([4, 80007, 130429, 131048]);
/** Meta's "temporary, retry" codes besides HTTP 5xx. */
const TRANSIENT_CODES = new Set([1, 2, 131000, 131016, 133004]);

/**
 * Maps a failed Graph API answer to a `WhatsAppError`, with a retry hint for rate limits:
 * `Retry-After` if sent, else 1 s for throughput (~80 msg/s per number), 6 s per user
 * (~1 msg per 6 s to one user), 60 s for spam control.
 */
export function metaApiError(status: number, body: unknown, headers = new Headers()) {
  const error = obj(obj(body)?.error);
  const code = num(error?.code);
  const message = str(error?.message) ?? `HTTP ${status}`;
  const details = str(obj(error?.error_data)?.details);
  const retryAfter = retryAfterMs(headers);
  const options = {
    provider: "meta" as const,
    status,
    ...(code === undefined ? {} : { code }),
    ...(details ? { details } : {}),
  };
  const text = `Meta: ${message}${details ? ` (${details})` : ""}`;
  if (code === 131056) {
    return new WhatsAppError("pair_rate_limited", text, {
      ...options,
      retryAfterMs: retryAfter ?? 6_000,
    });
  }
  if ((code !== undefined && RATE_LIMIT_CODES.has(code)) || status === 429) {
    return new WhatsAppError("rate_limited", text, {
      ...options,
      retryAfterMs: retryAfter ?? (code === 131048 ? 60_000 : 1_000),
    });
  }
  if (code === 131047) return new WhatsAppError("outside_window", text, options);
  if (status === 401 || code === 190) return new WhatsAppError("unauthorized", text, options);
  if (status >= 500 || (code !== undefined && TRANSIENT_CODES.has(code))) {
    return new WhatsAppError("server", text, {
      ...options,
      ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }),
    });
  }
  return new WhatsAppError("rejected", text, options);
}

// ---------------------------------------------------------------------------------------------
// The provider

export class MetaCloudProvider implements WhatsAppProvider {
  readonly name = "meta" as const;
  readonly textLimit = META_LIMITS.text;
  readonly interactive = true;
  readonly #options: MetaOptions;
  readonly #base: string;
  readonly #http: HttpContext;
  readonly #maxMediaBytes: number;

  constructor(options: MetaOptions) {
    for (const key of ["accessToken", "appSecret", "phoneNumberId"] as const) {
      if (!options[key]) throw new Error(`MetaCloudProvider: ${key} is required`);
    }
    this.#options = options;
    const version = options.apiVersion ?? DEFAULT_GRAPH_VERSION;
    this.#base = `${(options.graphUrl ?? DEFAULT_GRAPH_URL).replace(/\/+$/, "")}/${
      version.startsWith("v") ? version : `v${version}`
    }`;
    this.#http = {
      provider: "meta",
      fetch: options.fetch ?? fetch,
      timeoutMs: options.timeoutMs ?? 15_000,
    };
    this.#maxMediaBytes = options.maxMediaBytes ?? DEFAULT_MAX_MEDIA_BYTES;
  }

  /** See {@link metaHandshake}; null when no verify token is configured. */
  handshake(params: URLSearchParams): string | null {
    return metaHandshake(params, this.#options.verifyToken ?? "");
  }

  verifySignature(request: RawWebhook): Promise<boolean> {
    return verifyMetaSignature(
      this.#options.appSecret,
      request.body,
      request.headers.get("x-hub-signature-256"),
    );
  }

  parseInbound(request: RawWebhook): ParsedWebhook {
    return parseMetaWebhook(request.body, request.receivedAt);
  }

  async send(to: string, message: OutboundMessage): Promise<SendResult> {
    const payload = metaMessagePayload(to, message);
    const body = await this.#post(payload);
    const id = str(obj(arr(obj(body)?.messages)[0])?.id);
    if (!id) {
      throw new WhatsAppError("bad_response", "Meta: send answered without a message id", {
        provider: "meta",
      });
    }
    return { providerMessageId: id };
  }

  async markRead(messageId: string, options: { typing: boolean }): Promise<void> {
    await this.#post({
      messaging_product: "whatsapp",
      status: "read",
      message_id: messageId,
      ...(options.typing ? { typing_indicator: { type: "text" } } : {}),
    });
  }

  /**
   * Media id → `{url, mime_type, sha256, file_size}` → bytes, both with the bearer token. The
   * URL lives ~5 minutes, so call this soon after the webhook. Checks the declared size before
   * downloading and the SHA-256 after, when Meta gives one.
   */
  async downloadMedia(ref: MediaRef, options: DownloadOptions = {}): Promise<DownloadedMedia> {
    if (ref.source !== "meta") {
      throw invalid("Meta can only download media by id");
    }
    const maxBytes = options.maxBytes ?? this.#maxMediaBytes;
    const auth = { authorization: `Bearer ${this.#options.accessToken}` };
    const metaResponse = await call(
      this.#http,
      `${this.#base}/${encodeURIComponent(ref.id)}`,
      { headers: auth },
    );
    const info = obj(await readJson(this.#http, metaResponse));
    if (!metaResponse.ok) throw metaApiError(metaResponse.status, info, metaResponse.headers);
    const url = str(info?.url);
    if (!url) {
      throw new WhatsAppError("bad_response", "Meta: media answer without url", {
        provider: "meta",
      });
    }
    const declared = num(info?.file_size);
    if (declared !== undefined && declared > maxBytes) {
      throw new WhatsAppError(
        "media_too_large",
        `Meta: media is ${declared} bytes, over the ${maxBytes}-byte limit`,
        { provider: "meta" },
      );
    }
    const response = await call(this.#http, url, { headers: auth });
    if (!response.ok) {
      throw metaApiError(response.status, await readJson(this.#http, response), response.headers);
    }
    const bytes = await readCapped(this.#http, response, maxBytes);
    const expected = str(info?.sha256) ?? ref.sha256;
    if (expected && !(await matchesSha256(bytes, expected))) {
      throw new WhatsAppError("bad_response", "Meta: media bytes do not match their SHA-256", {
        provider: "meta",
      });
    }
    return {
      bytes,
      mimeType: str(info?.mime_type) ?? ref.mimeType ??
        response.headers.get("content-type") ?? "application/octet-stream",
    };
  }

  async #post(payload: Json): Promise<unknown> {
    const response = await call(
      this.#http,
      `${this.#base}/${this.#options.phoneNumberId}/messages`,
      {
        method: "POST",
        headers: {
          authorization: `Bearer ${this.#options.accessToken}`,
          "content-type": "application/json",
        },
        body: JSON.stringify(payload),
      },
    );
    const body = await readJson(this.#http, response);
    if (!response.ok) throw metaApiError(response.status, body, response.headers);
    return body;
  }
}

/**
 * Meta documents the digest as "sha256" without saying the encoding; both hex and base64 have
 * been seen. A value in neither form is not checked (we cannot tell it is wrong).
 */
async function matchesSha256(bytes: Uint8Array, expected: string): Promise<boolean> {
  const digest = await sha256(bytes);
  if (/^[0-9a-fA-F]{64}$/.test(expected)) return toHex(digest) === expected.toLowerCase();
  if (/^[A-Za-z0-9+/]{43}=$/.test(expected)) return toBase64(digest) === expected;
  return true;
}
