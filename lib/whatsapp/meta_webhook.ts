/**
 * Meta's webhooks (https://developers.facebook.com/docs/graph-api/webhooks/): the signature over the raw bytes, the verification
 * handshake, and the body translated into our types.
 *
 * - `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`, checked over the bytes
 *   as received, before any JSON parsing, in constant time.
 * - Bodies are parsed defensively: Meta adds types and fields, and a delivery we throw on is one
 *   Meta retries for days. Unknown parts become `unsupported` messages or `problems`.
 */
import { fromHex, hmac, timingSafeEqual, toHex } from "./crypto.ts";
import { arr, e164, type Json, num, obj, str } from "./http.ts";
import { given, listReply, sharedLocation, unsupported } from "./inbound_parts.ts";
import { storable } from "./storable.ts";
import {
  believableTime,
  type DeliveryError,
  type InboundBase,
  type InboundMessage,
  type MediaRef,
  type ParsedWebhook,
  type StatusUpdate,
} from "./types.ts";

// ---------------------------------------------------------------------------------------------
// Signature and handshake

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
// Parsing

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
    ...given("phoneNumberId", business.phoneNumberId),
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
  const unsupportedType = (reason: string, originalType = type) =>
    unsupported(base, originalType, reason);
  const part = obj(m[type]);

  switch (type) {
    case "text": {
      const text = typeof part?.body === "string" ? part.body : undefined;
      return text === undefined ? unsupportedType("text without body") : { ...base, type, text };
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
        return listReply(base, { rowId: replyId, title, description: str(reply?.description) });
      }
      return unsupportedType(`interactive ${kind} not handled`, `interactive.${kind}`);
    }
    case "button": {
      // A quick-reply button of a template message.
      const text = str(part?.text) ?? "";
      const payload = str(part?.payload) ?? text;
      return payload
        ? { ...base, type: "button_reply", buttonId: payload, title: text }
        : unsupportedType("button without payload or text");
    }
    case "image":
    case "document":
    case "audio": {
      const mediaId = str(part?.id);
      if (!mediaId) return unsupportedType(`${type} without media id`);
      const media: MediaRef = {
        source: "meta",
        id: mediaId,
        ...given("mimeType", str(part?.mime_type)),
        ...given("sha256", str(part?.sha256)),
      };
      const caption = given("caption", str(part?.caption));
      if (type === "image") return { ...base, type, media, ...caption };
      if (type === "audio") {
        return { ...base, type, media, ...(part?.voice === true ? { voice: true } : {}) };
      }
      return { ...base, type, media, ...given("filename", str(part?.filename)), ...caption };
    }
    case "location": {
      const latitude = num(part?.latitude);
      const longitude = num(part?.longitude);
      if (latitude === undefined || longitude === undefined) {
        return unsupportedType("location without coordinates");
      }
      return sharedLocation(base, {
        latitude,
        longitude,
        name: str(part?.name),
        address: str(part?.address),
      });
    }
    default: {
      const error = arr(m.errors).map((e) => parseError(obj(e)))[0];
      return unsupportedType(
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
  return {
    code: num(e?.code) ?? 0,
    title: str(e?.title) ?? message ?? "unknown error",
    ...given("message", message),
    ...given("details", str(obj(e?.error_data)?.details)),
  };
}
