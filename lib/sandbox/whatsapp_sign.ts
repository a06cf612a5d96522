/**
 * Builds and signs inbound WhatsApp webhooks exactly as Meta and Twilio send them, for tests and
 * the sandbox's "pretend to be a user" button.
 *
 * Signing uses `node:crypto`, not our own `lib/whatsapp` code, so a test that signs here and
 * verifies there checks two independent implementations against each other (and the Twilio
 * side is further checked against the official `twilio` package in lib/sandbox/twilio_test.ts).
 *
 * Meta: `metaText(...)`/`metaButtonReply(...)`/… build one message; `metaWebhook({messages})`
 * wraps messages and statuses in the full `whatsapp_business_account` envelope with contacts;
 * `signedMetaWebhook(appSecret, payload)` returns `{body, headers}` ready for `fetch`.
 *
 * Twilio: `twilioInbound({...})` builds the form fields Twilio posts for a WhatsApp message;
 * `signedTwilioWebhook(authToken, url, params)` returns `{body, headers}` with
 * `X-Twilio-Signature` over `url` + the sorted fields.
 */
import { createHmac } from "node:crypto";

// ---------------------------------------------------------------------------------------------
// Meta

export const TEST_PHONE_NUMBER_ID = "106540352242922";
export const TEST_DISPLAY_NUMBER = "15550783881";
export const TEST_WABA_ID = "102290129340398";

type Json = Record<string, unknown>;

/** What every built Meta message carries; `name` goes into `contacts[].profile.name`. */
export interface MetaMessageInit {
  /** The user, any notation ("+263771234567" or "263771234567"). */
  from: string;
  /** Profile name (default "Test User"). */
  name?: string;
  /** `wamid.…`, random by default. */
  id?: string;
  /** Unix seconds, now by default. */
  timestamp?: number;
  /** The message being replied to. */
  context?: { id: string; from?: string };
}

/** A Meta message object with the sender's profile name alongside, for the envelope. */
export interface MetaMessage {
  message: Json;
  contact: { wa_id: string; name?: string };
}

const digits = (phone: string) => phone.replace(/\D/g, "");

/** A random message id shaped like Meta's. */
export function wamid(): string {
  const raw = crypto.getRandomValues(new Uint8Array(30));
  return "wamid." + btoa(String.fromCharCode(...raw));
}

function metaMessage(init: MetaMessageInit, type: string, part: Json): MetaMessage {
  const from = digits(init.from);
  return {
    message: {
      ...(init.context
        ? {
          context: {
            from: digits(init.context.from ?? TEST_DISPLAY_NUMBER),
            id: init.context.id,
          },
        }
        : {}),
      from,
      id: init.id ?? wamid(),
      timestamp: String(init.timestamp ?? Math.floor(Date.now() / 1000)),
      type,
      [type]: part,
    },
    contact: { wa_id: from, ...(init.name ? { name: init.name } : {}) },
  };
}

export function metaText(init: MetaMessageInit & { text: string }): MetaMessage {
  return metaMessage(init, "text", { body: init.text });
}

/** A tap on one of our reply buttons. */
export function metaButtonReply(
  init: MetaMessageInit & { buttonId: string; title: string },
): MetaMessage {
  return metaMessage(init, "interactive", {
    type: "button_reply",
    button_reply: { id: init.buttonId, title: init.title },
  });
}

/** A choice from one of our list messages. */
export function metaListReply(
  init: MetaMessageInit & { rowId: string; title: string; description?: string },
): MetaMessage {
  return metaMessage(init, "interactive", {
    type: "list_reply",
    list_reply: {
      id: init.rowId,
      title: init.title,
      ...(init.description ? { description: init.description } : {}),
    },
  });
}

/** A tap on a template's quick-reply button. */
export function metaTemplateButton(
  init: MetaMessageInit & { payload: string; text: string },
): MetaMessage {
  return metaMessage(init, "button", { payload: init.payload, text: init.text });
}

export function metaImage(
  init: MetaMessageInit & { mediaId: string; mimeType?: string; sha256?: string; caption?: string },
): MetaMessage {
  return metaMessage(init, "image", {
    ...(init.caption ? { caption: init.caption } : {}),
    mime_type: init.mimeType ?? "image/jpeg",
    sha256: init.sha256 ?? "4e8TgBDL5Sy6Sz8vt2O5c4N/lkX0V0Fi1r2A7VaiZrI=",
    id: init.mediaId,
  });
}

export function metaDocument(
  init: MetaMessageInit & { mediaId: string; mimeType?: string; filename?: string },
): MetaMessage {
  return metaMessage(init, "document", {
    filename: init.filename ?? "document.pdf",
    mime_type: init.mimeType ?? "application/pdf",
    sha256: "pYQ9rZ7y0xJ1mC0Kc5fYb1nqYl0p0mQm1GmS7mKJ0E4=",
    id: init.mediaId,
  });
}

export function metaAudio(
  init: MetaMessageInit & { mediaId: string; voice?: boolean },
): MetaMessage {
  return metaMessage(init, "audio", {
    mime_type: "audio/ogg; codecs=opus",
    sha256: "Jd0q2WzvJ8y8V3k6rT8y0Q9W2mJ8m6b0e1x2YQ3k5sA=",
    id: init.mediaId,
    voice: init.voice ?? true,
  });
}

export function metaLocation(
  init: MetaMessageInit & { latitude: number; longitude: number; name?: string; address?: string },
): MetaMessage {
  return metaMessage(init, "location", {
    latitude: init.latitude,
    longitude: init.longitude,
    ...(init.name ? { name: init.name } : {}),
    ...(init.address ? { address: init.address } : {}),
  });
}

/** A message type we do not handle (Meta sends `type: "unsupported"` for some). */
export function metaOther(init: MetaMessageInit & { type: string; part?: Json }): MetaMessage {
  return metaMessage(init, init.type, init.part ?? {});
}

/** A delivery status for a message we sent. */
export function metaStatus(init: {
  messageId: string;
  status: "sent" | "delivered" | "read" | "failed";
  recipient: string;
  timestamp?: number;
  errors?: { code: number; title: string; message?: string; details?: string }[];
}): Json {
  return {
    id: init.messageId,
    status: init.status,
    timestamp: String(init.timestamp ?? Math.floor(Date.now() / 1000)),
    recipient_id: digits(init.recipient),
    ...(init.status === "failed" || init.errors
      ? {
        errors: (init.errors ?? [{ code: 131047, title: "Re-engagement message" }]).map((e) => ({
          code: e.code,
          title: e.title,
          message: e.message ?? e.title,
          error_data: { details: e.details ?? e.title },
        })),
      }
      : {}),
  };
}

/** The full webhook body Meta posts: one entry, one change, messages and/or statuses. */
export function metaWebhook(init: {
  messages?: MetaMessage[];
  statuses?: Json[];
  phoneNumberId?: string;
  displayPhoneNumber?: string;
}): Json {
  const messages = init.messages ?? [];
  // One contact per sender, named by the first of their messages that gave a name.
  const names = new Map<string, string | undefined>();
  for (const { contact } of messages) {
    if (!names.get(contact.wa_id)) names.set(contact.wa_id, contact.name);
  }
  const contacts = [...names].map(([wa_id, name]) => ({
    profile: { name: name ?? "Test User" },
    wa_id,
  }));
  return {
    object: "whatsapp_business_account",
    entry: [{
      id: TEST_WABA_ID,
      changes: [{
        value: {
          messaging_product: "whatsapp",
          metadata: {
            display_phone_number: init.displayPhoneNumber ?? TEST_DISPLAY_NUMBER,
            phone_number_id: init.phoneNumberId ?? TEST_PHONE_NUMBER_ID,
          },
          ...(contacts.length ? { contacts } : {}),
          ...(messages.length ? { messages: messages.map((m) => m.message) } : {}),
          ...(init.statuses?.length ? { statuses: init.statuses } : {}),
        },
        field: "messages",
      }],
    }],
  };
}

/** `X-Hub-Signature-256` for these exact body bytes. */
export function signMeta(appSecret: string, body: string | Uint8Array): string {
  return "sha256=" + createHmac("sha256", appSecret).update(body).digest("hex");
}

/**
 * A webhook request as Meta sends it. `body` is the exact string signed: pass it to `fetch`
 * unchanged (re-serialising the JSON would be a different body).
 */
export function signedMetaWebhook(
  appSecret: string,
  payload: Json | string,
): { body: string; headers: Record<string, string> } {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  return {
    body,
    headers: {
      "content-type": "application/json",
      "user-agent": "facebookexternalua",
      "x-hub-signature-256": signMeta(appSecret, body),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Twilio

export const TEST_TWILIO_NUMBER = "+14155238886";

export interface TwilioInboundInit {
  /** The user, any notation. */
  from: string;
  /** Our number (default the Twilio sandbox number). */
  to?: string;
  body?: string;
  profileName?: string;
  messageSid?: string;
  accountSid?: string;
  media?: { url: string; contentType: string }[];
  buttonText?: string;
  buttonPayload?: string;
  latitude?: number;
  longitude?: number;
  /** The message being replied to. */
  repliedTo?: string;
  /** Extra fields, as Twilio adds without notice. */
  extra?: Record<string, string>;
}

/** A random `SM…` message SID. */
export function twilioSid(prefix = "SM"): string {
  return prefix + [...crypto.getRandomValues(new Uint8Array(16))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The form fields Twilio posts for an inbound WhatsApp message, in Twilio's usual order. */
export function twilioInbound(init: TwilioInboundInit): Record<string, string> {
  const sid = init.messageSid ?? twilioSid(init.media?.length ? "MM" : "SM");
  const from = `whatsapp:+${digits(init.from)}`;
  const media = init.media ?? [];
  const type = init.buttonPayload || init.buttonText
    ? "button"
    : init.latitude !== undefined
    ? "location"
    : media.length
    ? media[0].contentType.split("/")[0]
    : "text";
  const fields: Record<string, string> = {
    SmsMessageSid: sid,
    NumMedia: String(media.length),
    ProfileName: init.profileName ?? "Test User",
    MessageType: type,
    SmsSid: sid,
    WaId: digits(init.from),
    SmsStatus: "received",
    Body: init.body ?? "",
    To: `whatsapp:+${digits(init.to ?? TEST_TWILIO_NUMBER)}`,
    NumSegments: "1",
    ReferralNumMedia: "0",
    MessageSid: sid,
    AccountSid: init.accountSid ?? "AC00000000000000000000000000000001",
    From: from,
    ApiVersion: "2010-04-01",
  };
  media.forEach((m, i) => {
    fields[`MediaContentType${i}`] = m.contentType;
    fields[`MediaUrl${i}`] = m.url;
  });
  if (init.buttonText) fields.ButtonText = init.buttonText;
  if (init.buttonPayload) fields.ButtonPayload = init.buttonPayload;
  if (init.latitude !== undefined) fields.Latitude = String(init.latitude);
  if (init.longitude !== undefined) fields.Longitude = String(init.longitude);
  if (init.repliedTo) fields.OriginalRepliedMessageSid = init.repliedTo;
  return { ...fields, ...init.extra };
}

/** The form fields of a Twilio status callback for a message we sent. */
export function twilioStatus(init: {
  messageSid: string;
  status: "queued" | "sent" | "delivered" | "read" | "failed" | "undelivered";
  to: string;
  errorCode?: number;
  errorMessage?: string;
}): Record<string, string> {
  return {
    ChannelPrefix: "whatsapp",
    ApiVersion: "2010-04-01",
    MessageStatus: init.status,
    SmsSid: init.messageSid,
    SmsStatus: init.status,
    To: `whatsapp:+${digits(init.to)}`,
    From: `whatsapp:${TEST_TWILIO_NUMBER}`,
    MessageSid: init.messageSid,
    AccountSid: "AC00000000000000000000000000000001",
    ...(init.errorCode ? { ErrorCode: String(init.errorCode) } : {}),
    ...(init.errorMessage ? { ErrorMessage: init.errorMessage } : {}),
  };
}

/** `X-Twilio-Signature`: base64 HMAC-SHA1 of the URL followed by the fields sorted by name. */
export function signTwilio(
  authToken: string,
  url: string,
  params: Record<string, string>,
): string {
  const data = Object.keys(params).sort().reduce((acc, key) => acc + key + params[key], url);
  return createHmac("sha1", authToken).update(Buffer.from(data, "utf-8")).digest("base64");
}

/** A webhook request as Twilio sends it to `url` (the full public URL, query included). */
export function signedTwilioWebhook(
  authToken: string,
  url: string,
  params: Record<string, string>,
): { body: string; headers: Record<string, string> } {
  return {
    body: new URLSearchParams(params).toString(),
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "user-agent": "TwilioProxy/1.1",
      "x-twilio-signature": signTwilio(authToken, url, params),
    },
  };
}
