/**
 * A fake Anthropic Messages API on a loopback port, for tests and for the sandbox. It speaks the
 * real wire format: a key (`x-api-key`, or `Authorization: Bearer` as @anthropic-ai/sdk 1.x sends
 * it) and the `anthropic-version` header required, `system` as a
 * top-level field (a `system` role among the messages is refused, as Anthropic does), the
 * streamed event sequence (`message_start` with the input tokens, `content_block_start`, `ping`,
 * `content_block_delta` × n, `content_block_stop`, `message_delta` with the output tokens and
 * stop reason, `message_stop`), the non-streamed message, `/v1/messages/count_tokens`,
 * `/v1/models`, and errors as `{type:"error", error:{type, message}}` with a `request-id`
 * header. Scripted failures as in the OpenAI fake ({@link FakeStep}); a 529 is "overloaded".
 *
 * @example
 * await using fake = await startFakeAnthropic();
 * const client = new Anthropic({ apiKey: fake.apiKey, baseURL: fake.baseUrl });
 */
import {
  answerChat,
  chatDeltas,
  type ChatRequest,
  conversation,
  scriptedFailure,
} from "./ai_answer.ts";
import { type Exchange, type FakeModelOptions, type FakeServer, serveFake } from "./ai_common.ts";
import { contentText, fakeId, fakePromptTokens, json, sse } from "./ai_model.ts";

export { type FakeRequest, type FakeStep } from "./ai_common.ts";
export { defaultReply, fakePromptTokens, fakeTokenCount } from "./ai_model.ts";

export const FAKE_ANTHROPIC_KEY = "sk-ant-fake-hurukuro-0000";

export interface FakeAnthropic extends FakeServer {
  /** What the Anthropic SDK wants as `baseURL` (it appends `/v1/messages`): the origin. */
  baseUrl: string;
  apiKey: string;
}

const MESSAGES = "/v1/messages";
const COUNT_TOKENS = "/v1/messages/count_tokens";
const ROLES = new Set(["user", "assistant"]);

export async function startFakeAnthropic(options: FakeModelOptions = {}): Promise<FakeAnthropic> {
  const apiKey = options.apiKey ?? FAKE_ANTHROPIC_KEY;
  const models = options.models ?? ["claude-sonnet-4-6", "claude-haiku-4-5"];
  const server = await serveFake(options, [MESSAGES], (exchange) => {
    const { record } = exchange;
    const given = exchange.headers.get("x-api-key") ??
      exchange.headers.get("authorization")?.replace(/^Bearer\s+/i, "");
    if (!given) {
      return anthropicError(401, "authentication_error", "x-api-key header is required");
    }
    if (given !== apiKey) return anthropicError(401, "authentication_error", "invalid x-api-key");
    if (exchange.method === "GET" && record.path === "/v1/models") {
      return json({
        data: models.map((id) => ({
          type: "model",
          id,
          display_name: id,
          created_at: "2025-01-01T00:00:00Z",
        })),
        has_more: false,
        first_id: models[0] ?? null,
        last_id: models.at(-1) ?? null,
      });
    }
    if (exchange.method !== "POST" || (record.path !== MESSAGES && record.path !== COUNT_TOKENS)) {
      return anthropicError(404, "not_found_error", "Not found");
    }
    if (!exchange.headers.get("anthropic-version")) {
      return anthropicError(400, "invalid_request_error", "anthropic-version: header is required");
    }
    const parsed = parseMessagesBody(record.body, record.path === MESSAGES);
    if (parsed instanceof Response) return parsed;
    if (record.path === COUNT_TOKENS) return json({ input_tokens: parsed.inputTokens });
    return messages(exchange, options, parsed);
  });
  return (Object.assign(server, { baseUrl: server.url, apiKey }));
}

interface ParsedBody extends ChatRequest {
  inputTokens: number;
}

function parseMessagesBody(raw: unknown, needsMaxTokens: boolean): ParsedBody | Response {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    return anthropicError(400, "invalid_request_error", "Request body is not valid JSON");
  }
  const body = raw as Record<string, unknown>;
  if (typeof body.model !== "string" || !body.model) {
    return anthropicError(400, "invalid_request_error", "model: Field required");
  }
  if (
    needsMaxTokens &&
    (typeof body.max_tokens !== "number" || !Number.isInteger(body.max_tokens) ||
      body.max_tokens < 1)
  ) {
    return anthropicError(400, "invalid_request_error", "max_tokens: Field required");
  }
  if (
    body.temperature !== undefined &&
    (typeof body.temperature !== "number" || body.temperature < 0 || body.temperature > 1)
  ) {
    return anthropicError(
      400,
      "invalid_request_error",
      "temperature: Input should be less than or equal to 1",
    );
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    return anthropicError(
      400,
      "invalid_request_error",
      "messages: at least one message is required",
    );
  }
  const messages = conversation(
    body.messages,
    ROLES,
    (i, role) =>
      role === "system"
        ? anthropicError(
          400,
          "invalid_request_error",
          'messages: Unexpected role "system". The Messages API accepts a top-level `system` ' +
            'parameter, not "system" as an input message role.',
        )
        : anthropicError(
          400,
          "invalid_request_error",
          `messages.${i}.role: Input should be 'user' or 'assistant'`,
        ),
  );
  if (messages instanceof Response) return messages;
  const system = contentText(body.system);
  if (system) messages.unshift({ role: "system", content: system });
  return {
    model: body.model,
    maxTokens: typeof body.max_tokens === "number" ? body.max_tokens : Infinity,
    stream: body.stream === true,
    messages,
    inputTokens: fakePromptTokens(messages),
  };
}

async function messages(
  exchange: Exchange,
  options: FakeModelOptions,
  parsed: ParsedBody,
): Promise<Response> {
  const scripted = await scriptedFailure(exchange, {
    rateLimit: (quota, headers) =>
      quota
        ? anthropicError(
          400,
          "billing_error",
          "Your credit balance is too low to access the Anthropic API. Please go to Plans & " +
            "Billing to upgrade or purchase credits.",
          headers,
        )
        : anthropicError(
          429,
          "rate_limit_error",
          "This request would exceed the rate limit for your organization of 50 requests per " +
            "minute. Please try again later.",
          headers,
        ),
    serverError: (status, headers) =>
      status === 529
        ? anthropicError(529, "overloaded_error", "Overloaded", headers)
        : anthropicError(status, "api_error", "Internal server error", headers),
    contextTooLong: () =>
      anthropicError(
        400,
        "invalid_request_error",
        "prompt is too long: 208310 tokens > 200000 maximum",
      ),
  });
  if (scripted) return scripted;
  const window = options.contextWindow ?? 200_000;
  if (parsed.inputTokens > window) {
    return anthropicError(
      400,
      "invalid_request_error",
      `prompt is too long: ${parsed.inputTokens} tokens > ${window} maximum`,
    );
  }

  const { model, inputTokens } = parsed;
  const { deltas, truncated } = chatDeltas(options, exchange.step, parsed);
  const stopReason = truncated ? "max_tokens" : "end_turn";
  const id = fakeId("msg_");
  const message = (content: unknown[], stop_reason: string | null, output_tokens: number) => ({
    id,
    type: "message",
    role: "assistant",
    model,
    content,
    stop_reason,
    stop_sequence: null,
    usage: {
      input_tokens: inputTokens,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens,
      service_tier: "standard",
    },
  });
  const event = (type: string, data: Record<string, unknown>) => sse({ type, ...data }, type);
  return answerChat(exchange, options, parsed.stream, deltas, {
    headers: { "request-id": fakeId("req_"), "anthropic-organization-id": "org-fake" },
    message: (text) => message([{ type: "text", text }], stopReason, deltas.length),
    events: () => ({
      start: [event("message_start", { message: message([], null, 1) })],
      open: [
        event("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
        event("ping", {}),
      ],
      delta: (text) =>
        event("content_block_delta", { index: 0, delta: { type: "text_delta", text } }),
      error: event("error", { error: { type: "overloaded_error", message: "Overloaded" } }),
      close: [
        event("content_block_stop", { index: 0 }),
        event("message_delta", {
          delta: { stop_reason: stopReason, stop_sequence: null },
          usage: { output_tokens: deltas.length },
        }),
        event("message_stop", {}),
      ],
    }),
  });
}

/** Anthropic's error body: `{"type":"error","error":{"type","message"},"request_id"}`. */
function anthropicError(
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
): Response {
  const requestId = fakeId("req_");
  return json(
    { type: "error", error: { type, message }, request_id: requestId },
    status,
    { "request-id": requestId, ...headers },
  );
}
