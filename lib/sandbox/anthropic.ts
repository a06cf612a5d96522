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
  type Exchange,
  type FakeModelOptions,
  type FakeServer,
  jsonAnswer,
  replyPace,
  type ReplyRequest,
  serveFake,
  streamDeltas,
} from "./ai_common.ts";
import {
  contentText,
  fakeId,
  fakePromptTokens,
  json,
  replyText,
  retryHeaders,
  splitDeltas,
  sse,
} from "./ai_model.ts";

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

interface ParsedBody {
  model: string;
  maxTokens: number;
  stream: boolean;
  conversation: ReplyRequest["messages"];
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
  const conversation: ReplyRequest["messages"] = [];
  const system = contentText(body.system);
  if (system) conversation.push({ role: "system", content: system });
  for (const [i, m] of body.messages.entries()) {
    if (m?.role === "system") {
      return anthropicError(
        400,
        "invalid_request_error",
        'messages: Unexpected role "system". The Messages API accepts a top-level `system` ' +
          'parameter, not "system" as an input message role.',
      );
    }
    if (m?.role !== "user" && m?.role !== "assistant") {
      return anthropicError(
        400,
        "invalid_request_error",
        `messages.${i}.role: Input should be 'user' or 'assistant'`,
      );
    }
    conversation.push({ role: m.role, content: contentText(m.content) });
  }
  return {
    model: body.model,
    maxTokens: typeof body.max_tokens === "number" ? body.max_tokens : Infinity,
    stream: body.stream === true,
    conversation,
    inputTokens: fakePromptTokens(conversation),
  };
}

async function messages(
  exchange: Exchange,
  options: FakeModelOptions,
  parsed: ParsedBody,
): Promise<Response> {
  const { record, step } = exchange;
  switch (step?.kind) {
    case "rate_limit":
      return step.quota
        ? anthropicError(
          400,
          "billing_error",
          "Your credit balance is too low to access the Anthropic API. Please go to Plans & " +
            "Billing to upgrade or purchase credits.",
          retryHeaders(step),
        )
        : anthropicError(
          429,
          "rate_limit_error",
          "This request would exceed the rate limit for your organization of 50 requests per " +
            "minute. Please try again later.",
          retryHeaders(step),
        );
    case "server_error": {
      const status = step.status ?? 500;
      return status === 529
        ? anthropicError(529, "overloaded_error", "Overloaded", retryHeaders(step))
        : anthropicError(status, "api_error", "Internal server error", retryHeaders(step));
    }
    case "hang":
      return await exchange.hang();
    case "context_too_long":
      return anthropicError(
        400,
        "invalid_request_error",
        "prompt is too long: 208310 tokens > 200000 maximum",
      );
  }
  const window = options.contextWindow ?? 200_000;
  if (parsed.inputTokens > window) {
    return anthropicError(
      400,
      "invalid_request_error",
      `prompt is too long: ${parsed.inputTokens} tokens > ${window} maximum`,
    );
  }

  const lastUser = parsed.conversation.findLast((m) => m.role === "user")?.content ?? "";
  const text = replyText(options, step, {
    model: parsed.model,
    messages: parsed.conversation,
    lastUserMessage: lastUser,
  });
  let deltas = splitDeltas(text);
  const stopReason = deltas.length > parsed.maxTokens ? "max_tokens" : "end_turn";
  deltas = deltas.slice(0, parsed.maxTokens);
  const pace = replyPace(options, step);
  const id = fakeId("msg_");
  const headers = { "request-id": fakeId("req_"), "anthropic-organization-id": "org-fake" };
  const cut = step?.kind === "cut" ? step : undefined;

  if (!parsed.stream) {
    if (!(await exchange.wait(pace.first))) return new Response(null, { status: 499 });
    record.deltasSent = deltas.length;
    const answer = JSON.stringify({
      id,
      type: "message",
      role: "assistant",
      model: parsed.model,
      content: [{ type: "text", text: deltas.join("") }],
      stop_reason: stopReason,
      stop_sequence: null,
      usage: {
        input_tokens: parsed.inputTokens,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens: deltas.length,
        service_tier: "standard",
      },
    });
    return jsonAnswer(exchange, answer, headers, cut);
  }

  const event = (type: string, data: Record<string, unknown>) => sse({ type, ...data }, type);
  return exchange.stream(
    (async function* () {
      yield event("message_start", {
        message: {
          id,
          type: "message",
          role: "assistant",
          model: parsed.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: {
            input_tokens: parsed.inputTokens,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
            output_tokens: 1,
            service_tier: "standard",
          },
        },
      });
      if (!(await exchange.wait(pace.first))) return;
      yield event("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
      yield event("ping", {});
      const more = yield* streamDeltas(
        exchange,
        deltas,
        pace,
        cut,
        (text) => event("content_block_delta", { index: 0, delta: { type: "text_delta", text } }),
        event("error", { error: { type: "overloaded_error", message: "Overloaded" } }),
      );
      if (!more) return;
      yield event("content_block_stop", { index: 0 });
      yield event("message_delta", {
        delta: { stop_reason: stopReason, stop_sequence: null },
        usage: { output_tokens: deltas.length },
      });
      yield event("message_stop", {});
    })(),
    { ...headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" },
  );
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
