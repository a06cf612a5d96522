/**
 * OpenAI, and every server that speaks its Chat Completions API (Ollama, llama.cpp server, vLLM,
 * OpenRouter, …) through the official `openai` SDK with a configurable `baseURL`.
 *
 * Answers come streamed (`stream`) or whole (`complete`, `stream: false`). Usage is requested in
 * the stream (`stream_options.include_usage`) because that is what we bill; servers that report
 * none get their usage counted locally, marked estimated.
 */
import OpenAI from "openai";
import {
  AiContextTooLongError,
  AiError,
  AiTimeoutError,
  AiUpstreamError,
  errorFromHttp,
} from "./errors.ts";
import { onRequestSent } from "./fetch.ts";
import { type ProviderSettings, SDK_CLIENT_OPTIONS, SdkProvider } from "./provider.ts";
import type { UpstreamAnswer } from "./complete.ts";
import { withRetry } from "./retry.ts";
import { retryAfterMs } from "../retry_after.ts";
import { AttemptSignal, type UpstreamEvent } from "./stream.ts";
import { sseEvents } from "./sse.ts";
import { countTextTokens } from "./tokens.ts";
import type { ChatMessage, Embeddings, FinishReason, StreamOptions } from "./types.ts";

export const OPENAI_BASE_URL = "https://api.openai.com/v1";

/** `baseUrl` with the version path, e.g. `http://localhost:11434/v1`; default: OpenAI itself. */
export interface OpenAiConfig extends ProviderSettings {
  embeddingModel?: string;
  /**
   * How the output cap is sent. OpenAI's reasoning models reject `max_tokens` and want
   * `max_completion_tokens`; many compatible servers know only `max_tokens`. Default: the former
   * for api.openai.com, the latter elsewhere.
   */
  maxTokensParam?: "max_tokens" | "max_completion_tokens";
}

export class OpenAiProvider extends SdkProvider<OpenAiConfig> {
  readonly name = "openai";
  readonly #client: OpenAI;

  constructor(config: OpenAiConfig) {
    super(config);
    const baseURL = config.baseUrl ?? OPENAI_BASE_URL;
    this.#client = new OpenAI({
      apiKey: config.apiKey,
      baseURL,
      // Explicit, so OPENAI_ORG_ID / OPENAI_PROJECT_ID in the environment are not picked up.
      organization: null,
      project: null,
      ...SDK_CLIENT_OPTIONS,
    });
  }

  protected upstream(messages: readonly ChatMessage[], options: StreamOptions) {
    const client = this.#client;
    const body = {
      ...this.#requestBody(messages, options),
      stream: true as const,
      stream_options: { include_usage: true },
    };
    const provider = "openai";
    return async function* (attemptSignal: AbortSignal): AsyncIterable<UpstreamEvent> {
      // The SDK makes the request (and throws its errors for a failed status); the events are
      // read here (sse.ts says why), as the SDK's `Stream` would read them.
      const response = await client.chat.completions.create(body, {
        signal: attemptSignal,
        fetchOptions: onRequestSent(options.onRequestSent),
      })
        .asResponse();
      if (!response.body) throw new AiUpstreamError("the stream had no body", { provider });
      for await (const message of sseEvents(response.body)) {
        if (message.data === "[DONE]") return;
        let chunk: OpenAI.Chat.Completions.ChatCompletionChunk;
        try {
          chunk = JSON.parse(message.data);
        } catch {
          throw new AiUpstreamError("malformed JSON in the event stream", { provider });
        }
        // An error reported inside the stream (`data: {"error": …}`, or an `error` event).
        const failure = (chunk as { error?: unknown } | null)?.error;
        if (message.event === "error" || failure) {
          throw new OpenAI.APIError(
            undefined,
            (failure ?? chunk) as Record<string, unknown>,
            undefined,
            response.headers,
          );
        }
        if (chunk.usage) {
          yield {
            type: "usage",
            inputTokens: chunk.usage.prompt_tokens,
            outputTokens: chunk.usage.completion_tokens,
          };
        }
        const choice = chunk.choices?.[0];
        if (choice?.delta?.content) yield { type: "delta", text: choice.delta.content };
        if (choice?.finish_reason) {
          yield { type: "finish", reason: finishReason(choice.finish_reason) };
        }
      }
    };
  }

  protected request(messages: readonly ChatMessage[], options: StreamOptions) {
    const client = this.#client;
    const body = { ...this.#requestBody(messages, options), stream: false as const };
    return async (attemptSignal: AbortSignal): Promise<UpstreamAnswer> => {
      const answer = await client.chat.completions.create(body, {
        signal: attemptSignal,
        fetchOptions: onRequestSent(options.onRequestSent),
      });
      const choice = answer.choices?.[0];
      if (!choice) throw new AiUpstreamError("the answer had no choices", { provider: "openai" });
      return {
        text: choice.message?.content ?? "",
        inputTokens: answer.usage?.prompt_tokens,
        outputTokens: answer.usage?.completion_tokens,
        finishReason: finishReason(choice.finish_reason ?? ""),
      };
    };
  }

  protected classify(error: unknown): AiError {
    return classifyOpenAiError(error);
  }

  async embed(texts: readonly string[], signal?: AbortSignal): Promise<Embeddings> {
    if (texts.length === 0) return { vectors: [], usage: { inputTokens: 0, estimated: false } };
    const model = this.config.embeddingModel ?? "text-embedding-3-small";
    const timeoutMs = this.timeoutMs();
    const response = await withRetry(
      async () => {
        const attempt = new AttemptSignal(signal, timeoutMs);
        attempt.arm();
        try {
          // No encoding_format: the SDK then asks for base64 (a quarter of the JSON size) and
          // decodes it to floats itself; it also copes with servers that answer floats anyway.
          return await this.#client.embeddings.create({ model, input: [...texts] }, {
            signal: attempt.signal,
          });
        } catch (error) {
          throw attempt.failure(error) ?? error;
        } finally {
          attempt.dispose();
        }
      },
      (error) => error instanceof AiError ? error : classifyOpenAiError(error),
      this.retry,
      signal,
    );
    const data = [...response.data].sort((a, b) => a.index - b.index);
    const promptTokens = response.usage?.prompt_tokens;
    return {
      vectors: data.map((item) => Array.from(item.embedding)),
      usage: promptTokens === undefined
        ? { inputTokens: texts.reduce((n, t) => n + countTextTokens(t), 0), estimated: true }
        : { inputTokens: promptTokens, estimated: false },
    };
  }

  #requestBody(messages: readonly ChatMessage[], options: StreamOptions) {
    const config = this.config;
    const maxTokens = options.maxOutputTokens ?? config.maxOutputTokens;
    const maxTokensParam = config.maxTokensParam ??
      (new URL(config.baseUrl ?? OPENAI_BASE_URL).hostname === "api.openai.com"
        ? "max_completion_tokens"
        : "max_tokens");
    const temperature = options.temperature ?? config.temperature;
    return {
      model: options.model ?? config.model,
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      ...(temperature === undefined ? {} : { temperature }),
      ...(maxTokens === undefined ? {} : { [maxTokensParam]: maxTokens }),
      ...(options.responseFormat
        ? {
          response_format: {
            type: "json_schema" as const,
            json_schema: {
              name: options.responseFormat.name,
              schema: options.responseFormat.schema,
            },
          },
        }
        : {}),
    };
  }
}

function finishReason(reason: string): FinishReason {
  if (reason === "stop") return "stop";
  if (reason === "length") return "length";
  return "other";
}

// vLLM: "This model's maximum context length is 4096 tokens"; llama.cpp: "the request exceeds
// the available context size"; OpenRouter: "This endpoint's maximum context length is …".
const CONTEXT_TOO_LONG = /context[ _-]?(length|size|window)|maximum context|too many tokens/i;

/** Maps what the `openai` SDK throws to our typed errors. */
export function classifyOpenAiError(error: unknown): AiError {
  const options = { provider: "openai" as const, cause: error };
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new AiTimeoutError(error.message, options);
  }
  if (error instanceof OpenAI.APIError) {
    const status = error.status;
    const contextTooLong = error.code === "context_length_exceeded" ||
      ((status === undefined || status === 400 || status === 413) &&
        CONTEXT_TOO_LONG.test(error.message));
    if (typeof status === "number") {
      return errorFromHttp({
        provider: "openai",
        status,
        message: error.message,
        retryAfterMs: retryAfterMs(error.headers),
        contextTooLong,
        quota: error.code === "insufficient_quota" || error.type === "insufficient_quota",
        cause: error,
      });
    }
    // An error event inside the stream (`data: {"error": …}`) has no status.
    if (contextTooLong) return new AiContextTooLongError(error.message, options);
  }
  // Connection refused or reset, a body cut short, an in-stream error event, malformed JSON in
  // the stream: all of them "the upstream let us down", worth another attempt.
  const message = error instanceof Error ? error.message : String(error);
  return new AiUpstreamError(message, options);
}
