/**
 * A fake OpenAI-compatible server (https://platform.openai.com/docs/api-reference) on a loopback port, for tests and for the
 * sandbox: `/v1/chat/completions` streamed (`data: {chunk}` lines, a usage chunk when
 * `stream_options.include_usage`, `data: [DONE]`) and not (parseable JSON when the grievance
 * classification's structured output is asked for), `/v1/audio/transcriptions` (a deterministic
 * transcript), `/v1/embeddings` in `float` or
 * `base64` (little-endian float32, which the openai SDK asks for by default), `/v1/models`, the
 * bearer key check, OpenAI's error JSON, and the failures a test scripts (see {@link FakeStep}).
 *
 * It answers any prompt with a deterministic text ({@link defaultReply}) split into many small
 * deltas, and counts tokens its own way ({@link fakeTokenCount}), so reported usage and our
 * gpt-tokenizer estimate differ visibly.
 *
 * @example
 * await using fake = await startFakeOpenAI();
 * fake.script({ kind: "rate_limit", retryAfter: "1" }); // the next call gets a 429
 * const client = new OpenAI({ apiKey: fake.apiKey, baseURL: fake.baseUrl });
 * // ... fake.calls("/v1/chat/completions") to count upstream calls and read what was sent
 */
import {
  answerChat,
  chatDeltas,
  conversation,
  type FailureAnswers,
  jsonAnswer,
  scriptedFailure,
} from "./ai_answer.ts";
import { type Exchange, type FakeModelOptions, type FakeServer, serveFake } from "./ai_common.ts";
import {
  fakeEmbedding,
  fakeId,
  fakePromptTokens,
  fakeTokenCount,
  float32Base64,
  json,
  sse,
} from "./ai_model.ts";
import {
  grievanceClassificationReply,
  multipartFile,
  transcriptionReply,
} from "../../lib/sandbox/grievance_model.ts";

/** The structured output the grievance classification asks for (lib/grievances/classify.ts). */
const GRIEVANCE_FORMAT = "grievance_classification";

export { type FakeRequest, type FakeStep } from "./ai_common.ts";
export { defaultReply, fakeEmbedding, fakePromptTokens, fakeTokenCount } from "./ai_model.ts";

export const FAKE_OPENAI_KEY = "sk-fake-hurukuro-0000";
export const DEFAULT_EMBEDDING_DIMENSIONS = 1536;

export interface FakeOpenAI extends FakeServer {
  /** What the openai SDK wants as `baseURL`: `{url}/v1`. */
  baseUrl: string;
  apiKey: string;
}

const CHAT = "/v1/chat/completions";
const EMBEDDINGS = "/v1/embeddings";
const TRANSCRIPTIONS = "/v1/audio/transcriptions";
const ROLES = new Set(["system", "developer", "user", "assistant", "tool", "function"]);

export async function startFakeOpenAI(options: FakeModelOptions = {}): Promise<FakeOpenAI> {
  const apiKey = options.apiKey ?? FAKE_OPENAI_KEY;
  const models = options.models ?? ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small"];
  const server = await serveFake(options, [CHAT, EMBEDDINGS, TRANSCRIPTIONS], (exchange) => {
    const { record } = exchange;
    const auth = exchange.headers.get("authorization") ?? "";
    if (!auth.startsWith("Bearer ") || !auth.slice(7).trim()) {
      return openAiError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization " +
          "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        "invalid_request_error",
        null,
      );
    }
    const given = auth.slice(7).trim();
    if (given !== apiKey) {
      return openAiError(
        401,
        `Incorrect API key provided: ${maskKey(given)}. You can find your API key at ` +
          "https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
      );
    }
    if (exchange.method === "GET" && record.path === "/v1/models") {
      return json({ object: "list", data: models.map(modelObject) });
    }
    if (exchange.method === "GET" && record.path.startsWith("/v1/models/")) {
      const id = decodeURIComponent(record.path.slice("/v1/models/".length));
      return models.includes(id) ? json(modelObject(id)) : openAiError(
        404,
        `The model '${id}' does not exist`,
        "invalid_request_error",
        "model_not_found",
      );
    }
    if (exchange.method === "POST" && record.path === CHAT) return chat(exchange, options);
    if (exchange.method === "POST" && record.path === EMBEDDINGS) {
      return embeddings(exchange, options);
    }
    if (exchange.method === "POST" && record.path === TRANSCRIPTIONS) {
      return transcription(exchange);
    }
    return openAiError(
      404,
      `Invalid URL (${exchange.method} ${record.path})`,
      "invalid_request_error",
      null,
    );
  });
  return (Object.assign(server, { baseUrl: `${server.url}/v1`, apiKey }));
}

async function chat(exchange: Exchange, options: FakeModelOptions): Promise<Response> {
  const { record, step } = exchange;
  const body = modelRequest(record.body);
  if (body instanceof Response) return body;
  const rawMessages = body.messages;
  if (!Array.isArray(rawMessages) || rawMessages.length === 0) {
    return openAiError(
      400,
      Array.isArray(rawMessages)
        ? "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an " +
          "empty array instead."
        : "Missing required parameter: 'messages'.",
      "invalid_request_error",
      Array.isArray(rawMessages) ? "empty_array" : "missing_required_parameter",
      "messages",
    );
  }
  const messages = conversation(rawMessages, ROLES, (i, role) =>
    openAiError(
      400,
      `Invalid value: '${role}'. Supported values are: 'system', 'assistant', 'user', ` +
        "'function', 'tool', and 'developer'.",
      "invalid_request_error",
      "invalid_value",
      `messages[${i}].role`,
    ));
  if (messages instanceof Response) return messages;

  const scripted = await scriptedFailure(exchange, openAiFailures("chat"));
  if (scripted) return scripted;

  const promptTokens = fakePromptTokens(messages);
  const window = options.contextWindow ?? 128_000;
  if (promptTokens > window) return contextTooLong(window, promptTokens);

  // Grievance classification asks for its structured output by name: it gets parseable JSON.
  const format = (body.response_format as { json_schema?: { name?: unknown } } | undefined)
    ?.json_schema?.name;
  const request = {
    model: body.model,
    messages,
    maxTokens: numberOr(body.max_completion_tokens, numberOr(body.max_tokens, Infinity)),
    stream: body.stream === true,
  };
  const { deltas, truncated } = chatDeltas(
    format === GRIEVANCE_FORMAT
      ? { ...options, reply: () => grievanceClassificationReply(messages) }
      : options,
    step,
    request,
  );
  const finishReason = truncated ? "length" : "stop";
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: deltas.length,
    total_tokens: promptTokens + deltas.length,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
  const omitUsage = (step?.kind === "reply" && step.omitUsage) || options.omitUsage === true;
  const id = fakeId("chatcmpl-");
  const created = Math.floor(Date.now() / 1000);
  const common = { id, created, model: body.model, system_fingerprint: "fp_hurukuro" };
  const streamOptions = body.stream_options as { include_usage?: unknown } | undefined;
  const withUsage = streamOptions?.include_usage === true && !omitUsage;
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    sse({
      ...common,
      object: "chat.completion.chunk",
      service_tier: "default",
      choices,
      ...(withUsage ? { usage: null } : {}),
      ...extra,
    });
  return answerChat(exchange, options, request.stream, deltas, {
    headers: { "x-request-id": fakeId("req_"), "openai-processing-ms": "1" },
    message: (content) => ({
      ...common,
      object: "chat.completion",
      choices: [{
        index: 0,
        message: { role: "assistant", content, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: finishReason,
      }],
      ...(omitUsage ? {} : { usage }),
      service_tier: "default",
    }),
    events: () => ({
      open: [chunk([{
        index: 0,
        delta: { role: "assistant", content: "", refusal: null },
        logprobs: null,
        finish_reason: null,
      }])],
      delta: (content) =>
        chunk([{ index: 0, delta: { content }, logprobs: null, finish_reason: null }]),
      error: sse({
        error: {
          message: "The server had an error while processing your request. Sorry about that!",
          type: "server_error",
          param: null,
          code: null,
        },
      }),
      close: [
        chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: finishReason }]),
        ...(withUsage ? [chunk([], { usage })] : []),
        sse("[DONE]"),
      ],
    }),
  });
}

async function embeddings(exchange: Exchange, options: FakeModelOptions): Promise<Response> {
  const { record, step } = exchange;
  const body = modelRequest(record.body);
  if (body instanceof Response) return body;
  const input = typeof body.input === "string" ? [body.input] : body.input;
  if (!Array.isArray(input) || input.length === 0) {
    return openAiError(
      400,
      "'$.input' is invalid. Please check the API reference: " +
        "https://platform.openai.com/docs/api-reference.",
      "invalid_request_error",
      null,
    );
  }
  // Token-id arrays are embedded as the text of their JSON: deterministic, and rarely used.
  const texts = input.map((item) => typeof item === "string" ? item : JSON.stringify(item));
  const format = body.encoding_format ?? "float";
  if (format !== "float" && format !== "base64") {
    return openAiError(
      400,
      `Invalid value: '${String(format)}'. Supported values are: 'float' and 'base64'.`,
      "invalid_request_error",
      "invalid_value",
      "encoding_format",
    );
  }
  const dimensions = numberOr(body.dimensions, DEFAULT_EMBEDDING_DIMENSIONS);
  if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > 3072) {
    return openAiError(
      400,
      "Invalid value for 'dimensions'.",
      "invalid_request_error",
      null,
      "dimensions",
    );
  }

  const scripted = await scriptedFailure(exchange, openAiFailures("embeddings"));
  if (scripted) return scripted;
  const tokens = texts.reduce((sum, t) => sum + fakeTokenCount(t), 0);
  if (texts.some((t) => fakeTokenCount(t) > 8192)) return contextTooLong(8192, tokens);
  const delay = step?.kind === "reply" ? step.firstTokenDelayMs : options.firstTokenDelayMs;
  if (!(await exchange.wait(delay ?? 0))) return new Response(null, { status: 499 });

  const answer = JSON.stringify({
    object: "list",
    data: texts.map((text, index) => {
      const vector = fakeEmbedding(text, dimensions);
      return {
        object: "embedding",
        index,
        embedding: format === "base64" ? float32Base64(vector) : Array.from(vector),
      };
    }),
    model: body.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
  return jsonAnswer(exchange, answer, {}, step?.kind === "cut" ? step : undefined);
}

/**
 * `POST /v1/audio/transcriptions` (multipart: `file`, `model`): a deterministic transcript of
 * the audio (lib/sandbox/grievance_model.ts), or OpenAI's errors for a missing file or model.
 */
async function transcription(exchange: Exchange): Promise<Response> {
  const upload = await multipartFile(exchange.raw, exchange.headers.get("content-type") ?? "");
  if (!upload) {
    return openAiError(
      400,
      "Could not parse multipart form",
      "invalid_request_error",
      null,
      "file",
    );
  }
  if (!upload.model) {
    return openAiError(400, "you must provide a model parameter", "invalid_request_error", null);
  }
  const scripted = await scriptedFailure(exchange, openAiFailures("transcriptions"));
  if (scripted) return scripted;
  return json({ text: transcriptionReply(upload.file) });
}

/** OpenAI's answers to the scripted failures of a `what` request. */
function openAiFailures(what: "chat" | "embeddings" | "transcriptions"): FailureAnswers {
  return {
    rateLimit: (quota, headers) =>
      quota
        ? openAiError(
          429,
          "You exceeded your current quota, please check your plan and billing details.",
          "insufficient_quota",
          "insufficient_quota",
          null,
          headers,
        )
        : openAiError(
          429,
          `Rate limit reached for requests on ${what} in organization org-hurukuro-fake: ` +
            "Limit 3, Used 3, Requested 1. Please try again later.",
          "requests",
          "rate_limit_exceeded",
          null,
          headers,
        ),
    serverError: (status, headers) =>
      openAiError(
        status,
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        null,
        null,
        headers,
      ),
    contextTooLong: () => contextTooLong(128_000, 130_000),
  };
}

function contextTooLong(window: number, requested: number): Response {
  return openAiError(
    400,
    `This model's maximum context length is ${window} tokens. However, your messages resulted ` +
      `in ${requested} tokens. Please reduce the length of the messages.`,
    "invalid_request_error",
    "context_length_exceeded",
    "messages",
  );
}

/** A chat or embeddings request: a JSON object naming a model, else OpenAI's answer to it. */
function modelRequest(raw: unknown): Record<string, unknown> & { model: string } | Response {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    return openAiError(
      400,
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't " +
        "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was " +
        "sent was not valid JSON.)",
      "invalid_request_error",
      null,
    );
  }
  const body = raw as Record<string, unknown>;
  if (typeof body.model !== "string" || !body.model) {
    return openAiError(400, "you must provide a model parameter", "invalid_request_error", null);
  }
  return { ...body, model: body.model };
}

/** OpenAI's error body: `{"error":{"message","type","param","code"}}`. */
function openAiError(
  status: number,
  message: string,
  type: string,
  code: string | null,
  param: string | null = null,
  headers: Record<string, string> = {},
): Response {
  return json({ error: { message, type, param, code } }, status, {
    "x-request-id": fakeId("req_"),
    ...headers,
  });
}

function modelObject(id: string) {
  return { id, object: "model", created: 1_700_000_000, owned_by: "hurukuro-sandbox" };
}

function maskKey(key: string): string {
  return key.length <= 8 ? "*".repeat(key.length) : `${key.slice(0, 3)}*****${key.slice(-4)}`;
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}
