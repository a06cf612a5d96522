/**
 * Outbound HTTP shared by the providers: one timeout per call (covering the body too), network
 * failures turned into `WhatsAppError("network")`, size-capped body reads, `Retry-After`, and a
 * failed answer mapped to its `WhatsAppError` kind.
 */
import { readWithin } from "../bytes.ts";
import { type ProviderName, WhatsAppError, type WhatsAppErrorOptions } from "./types.ts";

/** Throws when one of `keys` is missing or empty: a provider cannot start half-configured. */
export function requireOptions<T>(what: string, options: T, keys: readonly (keyof T)[]): void {
  for (const key of keys) {
    if (!options[key]) throw new Error(`${what}: ${String(key)} is required`);
  }
}

/** A provider's failed answer, as read from its status, body and headers. */
export interface ApiFailure {
  provider: ProviderName;
  status: number;
  /** The provider's own error code, if it gave one. */
  code?: number;
  details?: string;
  /** The sentence for logs: the provider's name and its message. */
  text: string;
  /** What its `Retry-After` asked for. */
  retryAfterMs?: number;
}

export function apiErrorOptions(f: ApiFailure): WhatsAppErrorOptions {
  return {
    provider: f.provider,
    status: f.status,
    ...(f.code === undefined ? {} : { code: f.code }),
    ...(f.details ? { details: f.details } : {}),
  };
}

/**
 * The kind of a failed answer, from what the provider's codes mean (each provider says which
 * apply): a rate limit waits `Retry-After` or `rateLimitWaitMs`; a server failure waits only
 * when asked to; any other refusal is `rejected`.
 */
export function apiError(
  f: ApiFailure,
  meaning: {
    rateLimited: boolean;
    rateLimitWaitMs: number;
    outsideWindow: boolean;
    unauthorized: boolean;
    server: boolean;
  },
): WhatsAppError {
  const options = apiErrorOptions(f);
  if (meaning.rateLimited) {
    return new WhatsAppError("rate_limited", f.text, {
      ...options,
      retryAfterMs: f.retryAfterMs ?? meaning.rateLimitWaitMs,
    });
  }
  if (meaning.outsideWindow) return new WhatsAppError("outside_window", f.text, options);
  if (meaning.unauthorized) return new WhatsAppError("unauthorized", f.text, options);
  if (meaning.server) {
    return new WhatsAppError("server", f.text, {
      ...options,
      ...(f.retryAfterMs === undefined ? {} : { retryAfterMs: f.retryAfterMs }),
    });
  }
  return new WhatsAppError("rejected", f.text, options);
}

/** An answer without what the protocol promises in it (an id, a URL, matching bytes). */
export function badResponse(provider: ProviderName, text: string): WhatsAppError {
  return new WhatsAppError("bad_response", text, { provider });
}

/** How a provider reads a failed answer (status, JSON body, headers) as a `WhatsAppError`. */
export type ToError = (status: number, body: unknown, headers: Headers) => WhatsAppError;

/**
 * A provider's calls: its own `fetch` (tests), a deadline per call (15 s unless given), and its
 * reading of a failed answer, which every call that checks an answer uses.
 */
export class HttpContext {
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;

  constructor(
    readonly provider: ProviderName,
    options: { fetch?: typeof fetch; timeoutMs?: number },
    readonly toError: ToError,
  ) {
    this.#fetch = options.fetch ?? fetch;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
  }

  /**
   * `fetch` with a deadline. The returned response's body is still under the same deadline, so
   * a provider that stalls mid-download cannot hang a job.
   */
  async call(url: string, init: RequestInit): Promise<Response> {
    const signal = AbortSignal.timeout(this.#timeoutMs);
    try {
      return await this.#fetch(url, { ...init, signal });
    } catch (cause) {
      const timedOut = signal.aborted;
      throw new WhatsAppError(
        "network",
        timedOut
          ? `${this.provider}: no answer from ${new URL(url).host} within ${this.#timeoutMs} ms`
          : `${this.provider}: could not reach ${new URL(url).host}`,
        { provider: this.provider, cause },
      );
    }
  }

  /** The body as JSON, or `undefined` if it is not JSON (error pages, proxies). Never throws. */
  async readJson(response: Response): Promise<unknown> {
    let text: string;
    try {
      text = await response.text();
    } catch (cause) {
      throw new WhatsAppError("network", `${this.provider}: the answer was cut off`, {
        provider: this.provider,
        status: response.status,
        cause,
      });
    }
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  }

  /** Throws a failed answer as `toError` reads it; a successful one's body is left to read. */
  async requireOk(response: Response): Promise<void> {
    if (!response.ok) {
      throw this.toError(response.status, await this.readJson(response), response.headers);
    }
  }

  /** The JSON body of an answer that succeeded; a failed one is thrown as `toError` reads it. */
  async readSucceeded(response: Response): Promise<unknown> {
    await this.requireOk(response);
    return await this.readJson(response);
  }

  /**
   * Reads a body but stops as soon as it passes `maxBytes`, so an oversized attachment costs at
   * most `maxBytes` of memory whatever `Content-Length` claimed (or omitted).
   */
  async readCapped(response: Response, maxBytes: number): Promise<Uint8Array> {
    const tooLarge = (size: string) =>
      new WhatsAppError(
        "media_too_large",
        `${this.provider}: media is ${size}, over the ${maxBytes}-byte limit`,
        { provider: this.provider, status: response.status },
      );
    const declared = Number(response.headers.get("content-length") ?? NaN);
    if (Number.isFinite(declared) && declared > maxBytes) {
      await response.body?.cancel();
      throw tooLarge(`${declared} bytes`);
    }
    if (!response.body) return new Uint8Array();
    let bytes: Uint8Array | null;
    try {
      bytes = await readWithin(response.body, maxBytes);
    } catch (cause) {
      throw new WhatsAppError("network", `${this.provider}: media download was cut off`, {
        provider: this.provider,
        cause,
      });
    }
    if (!bytes) throw tooLarge(`more than ${maxBytes} bytes`);
    return bytes;
  }
}

/** Loose JSON access without `any`: the providers' answers are untrusted shapes. */
export type Json = Record<string, unknown>;

export function obj(value: unknown): Json | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? value as Json
    : undefined;
}

export function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A non-empty string, or undefined. Numbers are accepted as their decimal text. */
export function str(value: unknown): string | undefined {
  if (typeof value === "string") return value === "" ? undefined : value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

export function num(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value === "string" && value.trim() !== "") {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** Any phone notation ("263771234567", "whatsapp:+263 77 123 4567") → "+263771234567". */
export function e164(value: string | undefined): string {
  const digits = (value ?? "").replace(/^whatsapp:/i, "").replace(/\D/g, "");
  return digits ? `+${digits}` : "";
}
