/**
 * The one vocabulary the rest of Hurukuro speaks about WhatsApp, whichever provider carries it.
 *
 * Providers (Meta Cloud API in `meta.ts`, Twilio in `twilio.ts`) translate their wire formats
 * (docs/whatsapp.md) into these types and back, so the webhook routes, the conversation
 * machine and the send job never see a provider's JSON or form fields.
 *
 * Phone numbers are E.164 with a leading "+" everywhere in these types ("+263771234567"): Meta
 * writes them as bare digits and Twilio as "whatsapp:+…", and mixing the two is how one user ends
 * up with two wallets.
 */

export type ProviderName = "meta" | "twilio";

/**
 * A phone number as we keep it: "+" and 6 to 15 digits (E.164 allows at most 15). A sender
 * that is not one cannot be answered, and is refused at the webhook (inbound.ts).
 */
export const PHONE_NUMBER = /^\+\d{6,15}$/;

/** Provider message ids longer than this are refused: Meta's are ~60 characters, Twilio's 34. */
export const MAX_MESSAGE_ID_CHARS = 256;

/** Meta retries a delivery for up to 7 days; older times than this are not believed. */
const OLDEST_BELIEVABLE_MS = 30 * 24 * 3600 * 1000;
/** Clocks drift: a time this far past our receive time is still believed. */
const NEWEST_BELIEVABLE_MS = 3600 * 1000;

/**
 * A message's own time (epoch ms) if it is believable next to `receivedAt`, else undefined: a
 * time like -99999999999999999 s is no date at all, and one from 1970 would close the 24-hour
 * window before the answer is sent. Callers use the receive time instead.
 */
export function believableTime(ms: number | undefined, receivedAt: number): number | undefined {
  if (ms === undefined || !Number.isFinite(ms)) return undefined;
  return ms >= receivedAt - OLDEST_BELIEVABLE_MS && ms <= receivedAt + NEWEST_BELIEVABLE_MS
    ? ms
    : undefined;
}

/** Where an inbound attachment lives: Meta gives a media id to resolve, Twilio a URL. */
export type MediaRef =
  | { source: "meta"; id: string; mimeType?: string; sha256?: string }
  | { source: "url"; url: string; mimeType?: string };

/** The message a user replied to (WhatsApp's "reply" or the message a button belonged to). */
export interface ReplyContext {
  /** Provider id of the quoted message (one of ours when the user tapped a button). */
  id: string;
  /** Who sent the quoted message, E.164, when the provider says. */
  from?: string;
}

/** Fields every inbound message has. */
export interface InboundBase {
  provider: ProviderName;
  /** Provider message id (`wamid.…` on Meta, `SM…`/`MM…` on Twilio): the de-duplication key. */
  id: string;
  /** The user, E.164 with "+". */
  from: string;
  /** Our business number, E.164 with "+" ("" when the provider did not say). */
  to: string;
  /** Meta's phone-number id the message arrived on, to answer from the same number. */
  phoneNumberId?: string;
  /** The user's WhatsApp profile name, if shared. Untrusted display text. */
  profileName?: string;
  /** When the user sent it (Meta) or when we received it (Twilio sends no time), epoch ms. */
  timestamp: number;
  context?: ReplyContext;
}

export interface InboundText extends InboundBase {
  type: "text";
  text: string;
}

/**
 * A tapped reply button, or a template quick-reply (Meta `button`, Twilio `ButtonPayload`).
 * `id` of the button is what we chose when sending; `title` is what the user saw.
 */
export interface InboundButtonReply extends InboundBase {
  type: "button_reply";
  buttonId: string;
  title: string;
}

export interface InboundListReply extends InboundBase {
  type: "list_reply";
  rowId: string;
  title: string;
  description?: string;
}

export interface InboundImage extends InboundBase {
  type: "image";
  media: MediaRef;
  caption?: string;
}

export interface InboundDocument extends InboundBase {
  type: "document";
  media: MediaRef;
  filename?: string;
  caption?: string;
}

export interface InboundAudio extends InboundBase {
  type: "audio";
  media: MediaRef;
  /** A voice note recorded in WhatsApp rather than an audio file. */
  voice?: boolean;
}

export interface InboundLocation extends InboundBase {
  type: "location";
  latitude: number;
  longitude: number;
  name?: string;
  address?: string;
}

/**
 * Anything we do not handle (video, sticker, reaction, contacts, a new type Meta adds tomorrow,
 * or a known type whose fields are malformed). Still carries id and sender so the bot can answer
 * "I can't read that yet" exactly once.
 */
export interface InboundUnsupported extends InboundBase {
  type: "unsupported";
  /** The provider's type name ("video", "sticker", "reaction", …). */
  originalType: string;
  /** Why it is unsupported, for the log. */
  reason: string;
}

export type InboundMessage =
  | InboundText
  | InboundButtonReply
  | InboundListReply
  | InboundImage
  | InboundDocument
  | InboundAudio
  | InboundLocation
  | InboundUnsupported;

export type InboundType = InboundMessage["type"];

/** One error attached to a failed delivery (Meta `errors[]`, Twilio `ErrorCode`). */
export interface DeliveryError {
  code: number;
  title: string;
  message?: string;
  details?: string;
}

/** What happened to a message we sent. */
export interface StatusUpdate {
  provider: ProviderName;
  /** The provider id `send` returned. */
  messageId: string;
  status: "sent" | "delivered" | "read" | "failed";
  /** The user, E.164 with "+" ("" when the provider did not say). */
  recipient: string;
  timestamp: number;
  errors: DeliveryError[];
}

/**
 * Everything one webhook delivery carried. A Meta delivery can batch several messages and
 * statuses; parts we could not understand are described in `problems` (for the webhook log) and
 * otherwise skipped — parsing never throws.
 */
export interface ParsedWebhook {
  messages: InboundMessage[];
  statuses: StatusUpdate[];
  problems: string[];
}

/** A webhook request as received: the raw bytes, because signatures are over exact bytes. */
export interface RawWebhook {
  /** The full public URL the provider called (Twilio signs it; use PUBLIC_URL, not Host). */
  url: string;
  headers: Headers;
  body: Uint8Array;
  /** When it arrived, epoch ms; defaults to now. Twilio messages carry no time of their own. */
  receivedAt?: number;
}

// ---------------------------------------------------------------------------------------------
// Outbound

export interface ReplyButton {
  /** Returned to us in the reply (≤ 256 chars on Meta). */
  id: string;
  /** Shown on the button; ≤ 20 chars on Meta (longer titles are shortened), unique. */
  title: string;
}

export interface ListRow {
  /** Returned to us in the reply (≤ 200 chars on Meta). */
  id: string;
  /** ≤ 24 chars on Meta (longer titles are shortened). */
  title: string;
  /** ≤ 72 chars on Meta (longer descriptions are shortened). */
  description?: string;
}

export interface ListSection {
  /** Required by Meta when there is more than one section; ≤ 24 chars. */
  title?: string;
  rows: ListRow[];
}

export interface OutboundText {
  type: "text";
  text: string;
  /** Let WhatsApp render a link preview (default false). */
  previewUrl?: boolean;
  /** Quote this provider message id. */
  replyTo?: string;
}

/** 1–3 reply buttons under a body text (Twilio renders a numbered text menu instead). */
export interface OutboundButtons {
  type: "buttons";
  body: string;
  buttons: ReplyButton[];
  header?: string;
  footer?: string;
  replyTo?: string;
}

/** A list menu: ≤ 10 rows in ≤ 10 sections behind one button (Twilio: numbered text menu). */
export interface OutboundList {
  type: "list";
  body: string;
  /** The label of the button that opens the list, ≤ 20 chars on Meta. */
  button: string;
  sections: ListSection[];
  header?: string;
  footer?: string;
  replyTo?: string;
}

/**
 * An approved template — the only thing allowed outside the 24-hour window (payment notices).
 * Twilio needs a Content SID: `name` may be one ("HX…"), or the provider maps names to SIDs.
 */
export interface OutboundTemplate {
  type: "template";
  name: string;
  /** Template language code, e.g. "en" or "en_US". */
  language: string;
  /** Values for the body placeholders {{1}}, {{2}}, … in order. */
  parameters?: string[];
}

export type OutboundMessage = OutboundText | OutboundButtons | OutboundList | OutboundTemplate;

export interface SendResult {
  /** `wamid.…` (Meta) or `SM…` (Twilio): status updates refer to it. */
  providerMessageId: string;
}

export interface DownloadedMedia {
  bytes: Uint8Array;
  mimeType: string;
}

export interface DownloadOptions {
  /** Refuse media larger than this many bytes (default: the provider's configured cap). */
  maxBytes?: number;
}

/**
 * One WhatsApp provider. Methods that talk to the network throw {@link WhatsAppError}; the
 * webhook-side methods (`verifySignature`, `parseInbound`) never throw.
 */
export interface WhatsAppProvider {
  readonly name: ProviderName;
  /** The longest text one message may carry (4096 on Meta, 1600 on Twilio). */
  readonly textLimit: number;
  /** Whether reply buttons and lists render natively (false: numbered text menus). */
  readonly interactive: boolean;
  /** Sends one message to `to` (E.164). A text over `textLimit` is refused: split it first. */
  send(to: string, message: OutboundMessage): Promise<SendResult>;
  /**
   * Marks an inbound message read, optionally showing "typing…" until our answer is sent (or
   * ~25 s pass). A no-op where the provider has no such call.
   */
  markRead(messageId: string, options: { typing: boolean }): Promise<void>;
  /** Fetches an inbound attachment, refusing anything over the size cap. */
  downloadMedia(ref: MediaRef, options?: DownloadOptions): Promise<DownloadedMedia>;
  /** Checks the provider's signature over the raw request; false on anything missing or wrong. */
  verifySignature(request: RawWebhook): Promise<boolean>;
  /** Translates a (verified) webhook body; unknown or malformed parts land in `problems`. */
  parseInbound(request: RawWebhook): ParsedWebhook;
}

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * What went wrong, in the terms the send job decides on:
 * - `rate_limited`: the number or app is over its throughput (Meta 130429, 4, 80007, 131048;
 *   HTTP 429; Twilio 20429/63018). Retry after `retryAfterMs`.
 * - `pair_rate_limited`: too many messages to this one user (Meta 131056). Retry later, slower.
 * - `outside_window`: the 24-hour window is closed (Meta 131047, Twilio 63016): only a template.
 * - `unauthorized`: bad or expired token (HTTP 401, Meta 190, Twilio 20003). Not retryable.
 * - `server`: the provider failed (5xx). Retry.
 * - `network`: no answer (timeout, connection refused). Retry.
 * - `invalid_message`: we built something the provider refuses (limits, ids): a bug, not retried.
 * - `media_too_large`: an attachment over the cap.
 * - `rejected`: any other 4xx; `details` says why.
 * - `bad_response`: the provider answered with something we could not read.
 */
export type WhatsAppErrorKind =
  | "rate_limited"
  | "pair_rate_limited"
  | "outside_window"
  | "unauthorized"
  | "server"
  | "network"
  | "invalid_message"
  | "media_too_large"
  | "rejected"
  | "bad_response";

const RETRYABLE: ReadonlySet<WhatsAppErrorKind> = new Set([
  "rate_limited",
  "pair_rate_limited",
  "server",
  "network",
]);

export interface WhatsAppErrorOptions {
  provider?: ProviderName;
  /** HTTP status of the provider's answer, if there was one. */
  status?: number;
  /** The provider's own error code (Meta `error.code`, Twilio `code`). */
  code?: number;
  /** How long to wait before retrying, when the provider said or the kind implies it. */
  retryAfterMs?: number;
  details?: string;
  cause?: unknown;
}

/** The one error type of `lib/whatsapp/`; the send job switches on `kind`. */
export class WhatsAppError extends Error {
  override name = "WhatsAppError";
  readonly kind: WhatsAppErrorKind;
  readonly provider?: ProviderName;
  readonly status?: number;
  readonly code?: number;
  readonly retryAfterMs?: number;
  readonly details?: string;

  constructor(kind: WhatsAppErrorKind, message: string, options: WhatsAppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.provider = options.provider;
    this.status = options.status;
    this.code = options.code;
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details;
  }

  /** Whether sending the same message again later can succeed. */
  get retryable(): boolean {
    return RETRYABLE.has(this.kind);
  }
}
