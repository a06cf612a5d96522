/**
 * The one shape every AI upstream is driven through. Conversations, billing and the SSE routes
 * depend on this file only, never on an SDK, so a provider can be swapped by configuration.
 */

export type Role = "system" | "user" | "assistant";

/** One turn of a conversation. System turns are allowed anywhere; adapters move them where
 * their API wants them (Anthropic takes them out into `system`). */
export interface ChatMessage {
  role: Role;
  content: string;
}

/** Per-call settings; anything left out falls back to the provider's configuration. */
export interface StreamOptions {
  model?: string;
  temperature?: number;
  maxOutputTokens?: number;
  /**
   * The longest the upstream may stay silent, per attempt: before the first chunk of the answer
   * arrives, and between two chunks. Not a cap on the whole answer, so a long essay that keeps
   * streaming is never cut, while a hung upstream is given up on quickly. A whole answer
   * (`complete`) arrives at once, so there the limit covers its generation.
   */
  timeoutMs?: number;
  /**
   * Called each time a request of this call (one per attempt) is handed to the network: a
   * caller with other work to do can let the request leave first, so that work does not compete
   * with it for the CPU (answer.ts). Both providers call it; `complete` and retries included.
   */
  onRequestSent?: () => void;
  /**
   * Ask for JSON matching this JSON Schema (OpenAI's structured outputs, `response_format:
   * json_schema`). Adapters without such an option ignore it: the prompt must ask for the JSON
   * too, and the caller validates what comes back either way.
   */
  responseFormat?: { name: string; schema: Record<string, unknown> };
}

/** Why the model stopped: `length` means `maxOutputTokens` (or the context window) cut it. */
export type FinishReason = "stop" | "length" | "other";

/** Token counts of one call. `estimated` is true when the upstream did not report them (some
 * OpenAI-compatible servers ignore `stream_options.include_usage`) and we counted them ourselves
 * with gpt-tokenizer: bill them, but flag the entry. */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  estimated: boolean;
}

export type StreamEvent =
  | { type: "delta"; text: string }
  | ({ type: "usage"; finishReason: FinishReason } & Usage);

export interface Completion {
  text: string;
  usage: Usage;
  finishReason: FinishReason;
}

export interface Embeddings {
  /** One vector per input text, in input order. */
  vectors: number[][];
  usage: { inputTokens: number; estimated: boolean };
}

export type ProviderName = "openai" | "anthropic";

export interface AiProvider {
  readonly name: ProviderName;
  /** The chat model used when a call does not name one. */
  readonly model: string;

  /**
   * Streams an answer: `delta` events in order, then exactly one `usage` event, always last.
   * Failures throw an `AiError` (errors.ts); before the first delta they are
   * retried (429, 5xx, timeouts, connection errors), after it never (a retry would repeat text
   * the user already saw), so a stream cut mid-way ends with partial output then an error whose
   * `partialUsage` says what was generated. Aborting `signal` stops the upstream request and
   * ends the stream with `AiAbortedError`; so does breaking out of the loop (without the error).
   */
  stream(
    messages: readonly ChatMessage[],
    options?: StreamOptions,
    signal?: AbortSignal,
  ): AsyncIterable<StreamEvent>;

  /**
   * The whole answer at once, from one non-streaming request per attempt: the same retries,
   * errors and usage rules as {@link stream}. Aborting `signal` ends it with `AiAbortedError`.
   */
  complete(
    messages: readonly ChatMessage[],
    options?: StreamOptions,
    signal?: AbortSignal,
  ): Promise<Completion>;

  /**
   * A local estimate (gpt-tokenizer, o200k_base) of the input tokens a prompt will cost,
   * including per-message overhead, for trimming history to a budget and reserving funds. Exact
   * for recent OpenAI models, an approximation for others. Synchronous and cheap.
   */
  countTokens(input: readonly ChatMessage[] | string): number;

  /** Embeds texts; throws `AiNotSupportedError` where the provider has no embeddings API. */
  embed(texts: readonly string[], signal?: AbortSignal): Promise<Embeddings>;
}
