/**
 * WhatsApp through Twilio's Messaging API (the alternative provider).
 *
 * Wire facts: https://www.twilio.com/docs/messaging/api.
 *
 * - Webhooks: the signature and the parsing are in twilio_webhook.ts; the message fields we send,
 *   checked against Twilio's limits, in twilio_payload.ts.
 * - Twilio has no reply buttons or lists without pre-approved content templates, so menus are
 *   sent as numbered text (menu.ts) and the user answers with a number.
 * - A typing indicator exists (public beta, `POST messaging.twilio.com/v2/Indicators/Typing.json`,
 *   which also marks the message read); there is no read-only call, so `markRead` without typing
 *   does nothing.
 * - Media URLs are fetched with Basic auth, which is only ever sent to the Twilio API origin (and
 *   any origins configured), never to where a redirect points (Twilio redirects to its CDN).
 */
import { TWILIO_TEXT_LIMIT } from "./format.ts";
import { toBase64 } from "./crypto.ts";
import { apiError, badResponse, e164, HttpContext, num, obj, requireOptions, str } from "./http.ts";
import { retryAfterMs } from "../retry_after.ts";
import { invalid, twilioMessageFields } from "./twilio_payload.ts";
import { parseForm, parseTwilioWebhook, verifyTwilioSignature } from "./twilio_webhook.ts";
import type {
  DownloadedMedia,
  DownloadOptions,
  MediaRef,
  OutboundMessage,
  ParsedWebhook,
  RawWebhook,
  SendResult,
  WhatsAppProvider,
} from "./types.ts";

export { twilioMessageFields } from "./twilio_payload.ts";
export {
  type FormParams,
  parseForm,
  parseTwilioWebhook,
  twilioSignature,
  twilioSigningString,
  verifyTwilioSignature,
} from "./twilio_webhook.ts";

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

/** Twilio's "too many requests" (20429) and WhatsApp rate limit (63018). */
const RATE_LIMIT_CODES = new Set([20429, 63018]);

/** Maps a failed Twilio answer (`{code, message, more_info, status}`) to a `WhatsAppError`. */
export function twilioApiError(status: number, body: unknown, headers = new Headers()) {
  const b = obj(body);
  const code = num(b?.code) || undefined;
  const text = `Twilio: ${str(b?.message) ?? `HTTP ${status}`}${code ? ` (${code})` : ""}`;
  return apiError({ provider: "twilio", status, code, text, retryAfterMs: retryAfterMs(headers) }, {
    rateLimited: status === 429 || (code !== undefined && RATE_LIMIT_CODES.has(code)),
    rateLimitWaitMs: 1_000,
    outsideWindow: code === 63016,
    unauthorized: status === 401 || code === 20003,
    server: status >= 500,
  });
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
    requireOptions("TwilioProvider", options, ["accountSid", "authToken", "from"]);
    this.#options = options;
    this.#apiUrl = (options.apiUrl ?? DEFAULT_TWILIO_API_URL).replace(/\/+$/, "");
    this.#messagingUrl = (options.messagingUrl ?? DEFAULT_TWILIO_MESSAGING_URL).replace(/\/+$/, "");
    this.#authorization = "Basic " +
      toBase64(new TextEncoder().encode(`${options.accountSid}:${options.authToken}`));
    this.#http = new HttpContext("twilio", options, twilioApiError);
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
      throw badResponse("twilio", "Twilio: send answered without a sid");
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
      const response = await this.#http.call(url.href, {
        redirect: "manual",
        headers: trusted ? { authorization: this.#authorization } : {},
      });
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location) {
        await response.body?.cancel();
        if (hop >= MAX_REDIRECTS) {
          throw badResponse("twilio", "Twilio: too many media redirects");
        }
        url = new URL(location, url);
        continue;
      }
      await this.#http.requireOk(response);
      const bytes = await this.#http.readCapped(response, maxBytes);
      return {
        bytes,
        mimeType: response.headers.get("content-type")?.split(";")[0].trim() || ref.mimeType ||
          "application/octet-stream",
      };
    }
  }

  async #post(url: string, form: URLSearchParams): Promise<unknown> {
    const response = await this.#http.call(url, {
      method: "POST",
      headers: {
        authorization: this.#authorization,
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
      },
      body: form.toString(),
    });
    return this.#http.readSucceeded(response);
  }
}
