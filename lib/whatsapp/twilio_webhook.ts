/**
 * Twilio's webhooks (https://www.twilio.com/docs/usage/security and
 * https://www.twilio.com/docs/messaging/guides/webhook-request): the signature, and the form
 * translated into our types.
 *
 * `X-Twilio-Signature` = base64(HMAC-SHA1(auth token, the full URL Twilio called + every POST
 * field name and value, sorted by name)). Twilio adds fields without notice, so we sign over
 * whatever arrived, never over a list of fields we know. Like the official helper
 * (`twilio.validateRequest`), the URL is tried as given, without its port and with the scheme's
 * default port, because proxies and load balancers disagree about ports.
 */
import { hmac, timingSafeEqual, toBase64 } from "./crypto.ts";
import { e164, num, str } from "./http.ts";
import { given, listReply, sharedLocation, unsupported } from "./inbound_parts.ts";
import { storable } from "./storable.ts";
import type {
  InboundBase,
  InboundMessage,
  MediaRef,
  ParsedWebhook,
  StatusUpdate,
} from "./types.ts";

// ---------------------------------------------------------------------------------------------
// Signature

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
// Parsing

const decoder = new TextDecoder();

/** Raw form bytes (or text) as fields; `+` and percent escapes decoded as browsers do. */
export function parseForm(body: Uint8Array | string): URLSearchParams {
  return new URLSearchParams(typeof body === "string" ? body : decoder.decode(body));
}

/** Twilio's message statuses as ours (a Map: only these names are statuses). */
const STATUS_MAP = new Map<string, StatusUpdate["status"]>(Object.entries({
  sent: "sent",
  delivered: "delivered",
  read: "read",
  failed: "failed",
  undelivered: "failed",
}));

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
      const status = STATUS_MAP.get(messageStatus);
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
  const replied = field("OriginalRepliedMessageSid");
  const base: InboundBase = {
    provider: "twilio",
    id: sid,
    from,
    to: e164(field("To")),
    ...given("profileName", field("ProfileName")),
    timestamp: receivedAt,
    ...(replied ? { context: { id: replied } } : {}),
  };
  const body = field("Body");
  const unsupportedType = (originalType: string, reason: string) =>
    unsupported(base, originalType, reason);

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
    return listReply(base, {
      rowId: listId,
      title: field("ListTitle") ?? body ?? "",
      description: field("ListDescription"),
    });
  }
  const latitude = num(field("Latitude"));
  const longitude = num(field("Longitude"));
  if (latitude !== undefined && longitude !== undefined) {
    return sharedLocation(base, {
      latitude,
      longitude,
      name: field("Label"),
      address: field("Address"),
    });
  }
  if ((num(field("NumMedia")) ?? 0) > 0) {
    const url = field("MediaUrl0");
    const mimeType = field("MediaContentType0");
    if (!url) return unsupportedType("media", "media without URL");
    const media: MediaRef = { source: "url", url, ...given("mimeType", mimeType) };
    const caption = given("caption", body);
    const major = mimeType?.split("/")[0].toLowerCase();
    if (major === "image") return { ...base, type: "image", media, ...caption };
    if (major === "audio") return { ...base, type: "audio", media };
    if (major === "video") return unsupportedType("video", "video not handled");
    return { ...base, type: "document", media, ...caption };
  }
  if (body !== undefined) return { ...base, type: "text", text: body };
  const type = field("MessageType") ?? "unknown";
  return unsupportedType(type, `empty ${type} message`);
}
