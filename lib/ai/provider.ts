/**
 * What the two SDK-backed providers share: their settings, and everything but the upstream's own
 * requests and answers — retries and the silence deadline (stream.ts for a streamed answer,
 * complete.ts for a whole one), the local token count.
 */
import { driveCompletion, type UpstreamAnswer } from "./complete.ts";
import { aiFetch } from "./fetch.ts";
import { DEFAULT_RETRY, type RetrySettings } from "./retry.ts";
import { DEFAULT_TIMEOUT_MS, driveStream, type UpstreamEvent } from "./stream.ts";
import { estimateTokens } from "./tokens.ts";
import type { AiError } from "./errors.ts";
import type {
  AiProvider,
  ChatMessage,
  Completion,
  Embeddings,
  ProviderName,
  StreamEvent,
  StreamOptions,
} from "./types.ts";

/** A provider's configuration, the same for every upstream. */
export interface ProviderSettings {
  apiKey: string;
  /** The upstream's API root (each provider says whether with its version path). */
  baseUrl?: string;
  model: string;
  temperature?: number;
  maxOutputTokens?: number;
  /** Longest silence tolerated from the upstream, per attempt (see `StreamOptions`). */
  timeoutMs?: number;
  retry?: Partial<RetrySettings>;
}

/** How both SDK clients are made. */
export const SDK_CLIENT_OPTIONS = {
  // We retry ourselves (see retry.ts); the SDK would count attempts a second time.
  maxRetries: 0,
  // Response bodies read in small buffers: an idle stream holds 2 KiB, not 64 (fetch.ts).
  fetch: aiFetch,
};

export abstract class SdkProvider<C extends ProviderSettings> implements AiProvider {
  abstract readonly name: ProviderName;
  readonly model: string;
  protected readonly config: C;
  protected readonly retry: RetrySettings;

  constructor(config: C) {
    this.config = config;
    this.model = config.model;
    this.retry = { ...DEFAULT_RETRY, ...config.retry };
  }

  /** One upstream request for `messages` (aborting its signal must abort it), and its events. */
  protected abstract upstream(
    messages: readonly ChatMessage[],
    options: StreamOptions,
  ): (attemptSignal: AbortSignal) => AsyncIterable<UpstreamEvent>;

  /** One non-streaming upstream request for `messages` (aborting its signal must abort it). */
  protected abstract request(
    messages: readonly ChatMessage[],
    options: StreamOptions,
  ): (attemptSignal: AbortSignal) => Promise<UpstreamAnswer>;

  /** What the SDK threw, as our typed error. */
  protected abstract classify(error: unknown): AiError;

  abstract embed(texts: readonly string[], signal?: AbortSignal): Promise<Embeddings>;

  /** The attempt's deadline: the call's, else the configuration's, else the default. */
  protected timeoutMs(options: StreamOptions = {}): number {
    return options.timeoutMs ?? this.config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** What a streamed and a whole call share: who answers, the error mapping, the count of the
   * prompt, the deadline, the retries and the caller's signal. */
  private callRules(
    messages: readonly ChatMessage[],
    options: StreamOptions,
    signal?: AbortSignal,
  ) {
    return {
      provider: this.name,
      classify: (error: unknown) => this.classify(error),
      estimateInput: () => estimateTokens(messages),
      timeoutMs: this.timeoutMs(options),
      retry: this.retry,
      signal,
    };
  }

  stream(
    messages: readonly ChatMessage[],
    options: StreamOptions = {},
    signal?: AbortSignal,
  ): AsyncIterable<StreamEvent> {
    const open = this.upstream(messages, options);
    return driveStream({ ...this.callRules(messages, options, signal), open });
  }

  complete(
    messages: readonly ChatMessage[],
    options: StreamOptions = {},
    signal?: AbortSignal,
  ): Promise<Completion> {
    const request = this.request(messages, options);
    return driveCompletion({ ...this.callRules(messages, options, signal), request });
  }

  countTokens(input: readonly ChatMessage[] | string): number {
    return estimateTokens(input);
  }
}
