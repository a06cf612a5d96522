/**
 * Anthropic's Messages API through the official `@anthropic-ai/sdk`, streamed (`stream`) or
 * whole (`complete`, `stream: false`).
 *
 * The API differs from OpenAI's in ways this file absorbs: system prompts go in `system`, not
 * among the messages; `max_tokens` is required; input tokens arrive in `message_start` and
 * output tokens in `message_delta` (cumulative); errors are `{type:"error", error:{type,
 * message}}`, with 529 for "overloaded". There is no embeddings API.
 */
import Anthropic from "@anthropic-ai/sdk";
import {
  AiError,
  AiNotSupportedError,
  AiRateLimitError,
  AiTimeoutError,
  AiUpstreamError,
  errorFromHttp,
} from "./errors.ts";
import { onRequestSent } from "./fetch.ts";
import { type ProviderSettings, SDK_CLIENT_OPTIONS, SdkProvider } from "./provider.ts";
import { retryAfterMs } from "../retry_after.ts";
import type { UpstreamAnswer } from "./complete.ts";
import type { UpstreamEvent } from "./stream.ts";
import type { ChatMessage, Embeddings, FinishReason, StreamOptions } from "./types.ts";

export const ANTHROPIC_BASE_URL = "https://api.anthropic.com";

/**
 * `baseUrl` without `/v1` (the SDK appends `/v1/messages`; default: Anthropic itself). Anthropic
 * requires an output cap: {@link DEFAULT_MAX_OUTPUT_TOKENS} when none is configured.
 */
export type AnthropicConfig = ProviderSettings;

export const DEFAULT_MAX_OUTPUT_TOKENS = 1024;
export class AnthropicProvider extends SdkProvider<AnthropicConfig> {
  readonly name = "anthropic";
  readonly #client: Anthropic;

  constructor(config: AnthropicConfig) {
    super(config);
    this.#client = new Anthropic({
      apiKey: config.apiKey,
      // Explicit, so ANTHROPIC_BASE_URL in the environment cannot redirect us.
      baseURL: config.baseUrl ?? ANTHROPIC_BASE_URL,
      ...SDK_CLIENT_OPTIONS,
    });
  }

  protected upstream(messages: readonly ChatMessage[], options: StreamOptions) {
    const client = this.#client;
    const body = { ...this.#requestBody(messages, options), stream: true as const };
    return async function* (attemptSignal: AbortSignal): AsyncIterable<UpstreamEvent> {
      const events = await client.messages.create(body, {
        signal: attemptSignal,
        fetchOptions: onRequestSent(options.onRequestSent),
      });
      let stopped = false;
      for await (const event of events) {
        switch (event.type) {
          case "message_start": {
            const usage = event.message.usage;
            yield {
              type: "usage",
              inputTokens: inputTokensOf(usage),
            };
            break;
          }
          case "content_block_delta":
            if (event.delta.type === "text_delta") {
              yield { type: "delta", text: event.delta.text };
            }
            break;
          case "message_delta":
            yield {
              type: "usage",
              // Recent API versions repeat the (final) input count here.
              inputTokens: event.usage.input_tokens == null
                ? undefined
                : inputTokensOf(event.usage),
              outputTokens: event.usage.output_tokens,
            };
            if (event.delta.stop_reason) {
              stopped = true;
              yield { type: "finish", reason: finishReason(event.delta.stop_reason) };
            }
            break;
          case "message_stop":
            // Normally message_delta gave the stop reason already; this makes sure we end.
            if (!stopped) yield { type: "finish", reason: "stop" };
            return;
        }
      }
    };
  }

  protected request(messages: readonly ChatMessage[], options: StreamOptions) {
    const client = this.#client;
    const body = { ...this.#requestBody(messages, options), stream: false as const };
    // Our deadline, given to the SDK as well: without one it refuses a non-streaming request
    // whose output cap could take over 10 minutes (above ~21,000 tokens) instead of sending it.
    const timeout = this.timeoutMs(options);
    return async (attemptSignal: AbortSignal): Promise<UpstreamAnswer> => {
      const message = await client.messages.create(body, {
        timeout,
        signal: attemptSignal,
        fetchOptions: onRequestSent(options.onRequestSent),
      });
      let text = "";
      for (const block of message.content) if (block.type === "text") text += block.text;
      return {
        text,
        inputTokens: message.usage ? inputTokensOf(message.usage) : undefined,
        outputTokens: message.usage?.output_tokens ?? undefined,
        finishReason: finishReason(message.stop_reason ?? ""),
      };
    };
  }

  protected classify(error: unknown): AiError {
    return classifyAnthropicError(error);
  }

  embed(_texts: readonly string[], _signal?: AbortSignal): Promise<Embeddings> {
    return Promise.reject(
      new AiNotSupportedError("Anthropic has no embeddings API", { provider: "anthropic" }),
    );
  }

  #requestBody(messages: readonly ChatMessage[], options: StreamOptions) {
    const config = this.config;
    const { system, turns } = splitSystem(messages);
    const temperature = options.temperature ?? config.temperature;
    return {
      model: options.model ?? config.model,
      max_tokens: options.maxOutputTokens ?? config.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS,
      messages: turns,
      ...(system ? { system } : {}),
      // Anthropic accepts 0–1 where OpenAI accepts 0–2; one configuration serves both.
      ...(temperature === undefined ? {} : { temperature: Math.min(1, temperature) }),
    };
  }
}

/**
 * System turns go to `system` (joined, in order); the others stay, with consecutive turns of one
 * role merged, since the API wants user and assistant to alternate.
 */
export function splitSystem(messages: readonly ChatMessage[]): {
  system: string;
  turns: { role: "user" | "assistant"; content: string }[];
} {
  const system: string[] = [];
  const turns: { role: "user" | "assistant"; content: string }[] = [];
  for (const message of messages) {
    if (message.role === "system") {
      system.push(message.content);
      continue;
    }
    const last = turns.at(-1);
    if (last?.role === message.role) last.content += "\n\n" + message.content;
    else turns.push({ role: message.role, content: message.content });
  }
  return { system: system.join("\n\n"), turns };
}

type InputUsage = {
  input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
};

/** Cached prompt tokens are input too (billed at other rates upstream; we bill them as input). */
function inputTokensOf(usage: InputUsage): number {
  return (usage.input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0) +
    (usage.cache_read_input_tokens ?? 0);
}

function finishReason(reason: string): FinishReason {
  if (reason === "end_turn" || reason === "stop_sequence") return "stop";
  if (reason === "max_tokens" || reason === "model_context_window_exceeded") return "length";
  return "other";
}

// "prompt is too long: 208310 tokens > 200000 maximum"
const CONTEXT_TOO_LONG = /prompt is too long|context[ _-]?(length|window)|too many tokens/i;

/** Maps what `@anthropic-ai/sdk` throws to our typed errors. */
export function classifyAnthropicError(error: unknown): AiError {
  if (error instanceof AiError) return error;
  const options = { provider: "anthropic" as const, cause: error };
  if (error instanceof Anthropic.APIConnectionTimeoutError) {
    return new AiTimeoutError(error.message, options);
  }
  if (error instanceof Anthropic.APIError) {
    const apiMessage = error.apiMessage ?? error.message;
    const contextTooLong = CONTEXT_TOO_LONG.test(apiMessage) ||
      /prompt_too_long|context/.test(error.errorCode ?? "");
    if (typeof error.status === "number") {
      return errorFromHttp({
        provider: "anthropic",
        status: error.status,
        message: error.message,
        retryAfterMs: retryAfterMs(error.headers),
        contextTooLong: error.status === 400 && contextTooLong,
        // "Your credit balance is too low": a 400 of type billing_error. Paying fixes it.
        quota: error.type === "billing_error",
        cause: error,
      });
    }
    // An `event: error` inside the stream: the type says what went wrong.
    if (error.type === "rate_limit_error") {
      return new AiRateLimitError(error.message, false, options);
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  return new AiUpstreamError(message, options);
}
