/**
 * WhatsApp through Meta's Cloud API (the default provider).
 *
 * Wire facts: https://developers.facebook.com/docs/whatsapp/cloud-api/ (webhooks, messages, media, errors).
 *
 * - Webhooks: the signature, the handshake and the parsing are in meta_webhook.ts; the message
 *   bodies we send, checked against Meta's limits, in meta_payload.ts.
 * - Errors are mapped to `WhatsAppError` kinds the send job can act on (see types.ts).
 *
 * Written on `fetch` rather than `whatsapp-api-js`: the surface we use is four calls, and owning
 * the parsing lets it never throw and produce our internal types directly.
 */
import { sha256, toBase64, toHex } from "./crypto.ts";
import {
  apiError,
  apiErrorOptions,
  arr,
  badResponse,
  HttpContext,
  type Json,
  num,
  obj,
  requireOptions,
  str,
} from "./http.ts";
import { retryAfterMs } from "../retry_after.ts";
import { invalid, META_LIMITS, metaMessagePayload } from "./meta_payload.ts";
import { metaHandshake, parseMetaWebhook, verifyMetaSignature } from "./meta_webhook.ts";
import {
  type DownloadedMedia,
  type DownloadOptions,
  type MediaRef,
  type OutboundMessage,
  type ParsedWebhook,
  type RawWebhook,
  type SendResult,
  WhatsAppError,
  type WhatsAppProvider,
} from "./types.ts";

export { META_LIMITS, metaMessagePayload } from "./meta_payload.ts";
export {
  metaHandshake,
  metaSignature,
  parseMetaWebhook,
  verifyMetaSignature,
} from "./meta_webhook.ts";

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
  const failure = {
    provider: "meta" as const,
    status,
    code,
    details,
    text: `Meta: ${message}${details ? ` (${details})` : ""}`,
    retryAfterMs: retryAfterMs(headers),
  };
  const known = code !== undefined;
  if (code === 131056) {
    return new WhatsAppError("pair_rate_limited", failure.text, {
      ...apiErrorOptions(failure),
      retryAfterMs: failure.retryAfterMs ?? 6_000,
    });
  }
  return apiError(failure, {
    rateLimited: (known && RATE_LIMIT_CODES.has(code)) || status === 429,
    rateLimitWaitMs: code === 131048 ? 60_000 : 1_000,
    outsideWindow: code === 131047,
    unauthorized: status === 401 || code === 190,
    server: status >= 500 || (known && TRANSIENT_CODES.has(code)),
  });
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
    requireOptions("MetaCloudProvider", options, ["accessToken", "appSecret", "phoneNumberId"]);
    this.#options = options;
    const version = options.apiVersion ?? DEFAULT_GRAPH_VERSION;
    this.#base = `${(options.graphUrl ?? DEFAULT_GRAPH_URL).replace(/\/+$/, "")}/${
      version.startsWith("v") ? version : `v${version}`
    }`;
    this.#http = new HttpContext("meta", options, metaApiError);
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
      throw badResponse("meta", "Meta: send answered without a message id");
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
    const metaResponse = await this.#http.call(`${this.#base}/${encodeURIComponent(ref.id)}`, {
      headers: auth,
    });
    const info = obj(await this.#http.readSucceeded(metaResponse));
    const url = str(info?.url);
    if (!url) {
      throw badResponse("meta", "Meta: media answer without url");
    }
    const declared = num(info?.file_size);
    if (declared !== undefined && declared > maxBytes) {
      throw new WhatsAppError(
        "media_too_large",
        `Meta: media is ${declared} bytes, over the ${maxBytes}-byte limit`,
        { provider: "meta" },
      );
    }
    const response = await this.#http.call(url, { headers: auth });
    await this.#http.requireOk(response);
    const bytes = await this.#http.readCapped(response, maxBytes);
    const expected = str(info?.sha256) ?? ref.sha256;
    if (expected && !(await matchesSha256(bytes, expected))) {
      throw badResponse("meta", "Meta: media bytes do not match their SHA-256");
    }
    return {
      bytes,
      mimeType: str(info?.mime_type) ?? ref.mimeType ??
        response.headers.get("content-type") ?? "application/octet-stream",
    };
  }

  async #post(payload: Json): Promise<unknown> {
    const response = await this.#http.call(
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
    return this.#http.readSucceeded(response);
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
