/**
 * How both AI fakes answer a chat request, whatever the provider: the answer's deltas (cut to the
 * request's token cap), the scripted failures, and the delivery as one JSON message or as a
 * paced stream of events, broken off where a `cut` step says. Each fake supplies only its wire
 * format: its error bodies ({@link FailureAnswers}) and its messages and events
 * ({@link ChatFormat}).
 */
import {
  type Exchange,
  type FakeModelOptions,
  type FakeStep,
  type ReplyRequest,
  STREAM_CUT,
} from "./ai_common.ts";
import { contentText, replyText, retryHeaders, splitDeltas } from "./ai_model.ts";

type Cut = Extract<FakeStep, { kind: "cut" }>;

/** A chat request as both fakes read it. */
export interface ChatRequest {
  model: string;
  /** Every message, system prompt included, as plain text. */
  messages: ReplyRequest["messages"];
  /** The cap on the answer's tokens (Infinity: none). */
  maxTokens: number;
  stream: boolean;
}

/**
 * A request's messages as plain text, or `refuse`'s answer to the first one whose role is not
 * among `roles` (the provider's error, naming the message's index).
 */
export function conversation(
  raw: unknown[],
  roles: ReadonlySet<string>,
  refuse: (index: number, role: unknown) => Response,
): ReplyRequest["messages"] | Response {
  const messages: ReplyRequest["messages"] = [];
  for (const [i, m] of raw.entries()) {
    const { role, content } = m && typeof m === "object" ? m as Record<string, unknown> : {};
    if (typeof role !== "string" || !roles.has(role)) return refuse(i, role);
    messages.push({ role, content: contentText(content) });
  }
  return messages;
}

/** A chat answer's deltas (a scripted text first), at most `maxTokens`, and whether it cut them. */
export function chatDeltas(
  options: FakeModelOptions,
  step: FakeStep | undefined,
  { model, messages, maxTokens }: ChatRequest,
): { deltas: string[]; truncated: boolean } {
  const lastUserMessage = messages.findLast((m) => m.role === "user")?.content ?? "";
  const deltas = splitDeltas(replyText(options, step, { model, messages, lastUserMessage }));
  const truncated = deltas.length > maxTokens;
  return { deltas: truncated ? deltas.slice(0, Math.max(0, maxTokens)) : deltas, truncated };
}

/** A provider's answers to the scripted failures (a `hang` is the same for all). */
export interface FailureAnswers {
  /** `quota`: the account is out of credit rather than over its rate. */
  rateLimit(quota: boolean, headers: Record<string, string>): Response;
  serverError(status: number, headers: Record<string, string>): Response;
  contextTooLong(): Response;
}

/** The response the exchange's scripted failure step asks for, or undefined to answer normally. */
export async function scriptedFailure(
  exchange: Exchange,
  answers: FailureAnswers,
): Promise<Response | undefined> {
  const step = exchange.step;
  switch (step?.kind) {
    case "rate_limit":
      return answers.rateLimit(step.quota === true, retryHeaders(step));
    case "server_error":
      return answers.serverError(step.status ?? 500, retryHeaders(step));
    case "hang":
      return await exchange.hang();
    case "context_too_long":
      return answers.contextTooLong();
  }
  return undefined;
}

/** How a provider puts a chat answer on the wire. */
export interface ChatFormat {
  /** Its response headers (a request id, ...). */
  headers: Record<string, string>;
  /** The non-streamed answer's JSON body, given the answer's text. */
  message(text: string): unknown;
  /** The streamed answer's events (asked for only when the request streams). */
  events(): {
    /** Sent at once, before the wait for the first token. */
    start?: string[];
    /** Sent with the first token, before the deltas. */
    open: string[];
    delta(text: string): string;
    /** The in-stream error a `cut` step's `error_event` sends. */
    error: string;
    /** Sent after the last delta. */
    close: string[];
  };
}

/** Answers `deltas` in the provider's `format`, streamed or not, paced and counted. */
export async function answerChat(
  exchange: Exchange,
  options: FakeModelOptions,
  stream: boolean,
  deltas: string[],
  format: ChatFormat,
): Promise<Response> {
  const { step } = exchange;
  const pace = replyPace(options, step);
  const cut = step?.kind === "cut" ? step : undefined;
  if (!stream) {
    if (!(await exchange.wait(pace.first))) return new Response(null, { status: 499 });
    exchange.record.deltasSent = deltas.length;
    const answer = JSON.stringify(format.message(deltas.join("")));
    return jsonAnswer(exchange, answer, format.headers, cut);
  }
  const events = format.events();
  return exchange.stream(
    (async function* () {
      yield* events.start ?? [];
      if (!(await exchange.wait(pace.first))) return;
      yield* events.open;
      if (yield* streamDeltas(exchange, deltas, pace, cut, events.delta, events.error)) {
        yield* events.close;
      }
    })(),
    {
      ...format.headers,
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
    },
  );
}

/** The answer's pace: the step's own waits (a scripted reply), else the fake's. */
function replyPace(
  options: Pick<FakeModelOptions, "firstTokenDelayMs" | "deltaDelayMs">,
  step: FakeStep | undefined,
): { first: number; between: number } {
  const own = step?.kind === "reply" ? step : undefined;
  return {
    first: own?.firstTokenDelayMs ?? options.firstTokenDelayMs ?? 0,
    between: own?.deltaDelayMs ?? options.deltaDelayMs ?? 0,
  };
}

/**
 * A non-streamed JSON answer; under a `cut` step, its first half and then the break the step
 * asks for.
 */
export function jsonAnswer(
  exchange: Exchange,
  answer: string,
  headers: Record<string, string>,
  cut: Cut | undefined,
): Response {
  const json = { ...headers, "content-type": "application/json" };
  if (!cut) return new Response(answer, { headers: json });
  return exchange.stream(
    (async function* () {
      yield answer.slice(0, Math.floor(answer.length / 2));
      if (cut.how === "close") return exchange.finish("cut");
      throw STREAM_CUT;
    })(),
    json,
  );
}

/**
 * A streamed answer's deltas, each as `event(delta)`, paced and counted (`record.deltasSent`),
 * broken off where a `cut` step says (`errorEvent` is the provider's in-stream error). Returns
 * whether the stream goes on to its closing events.
 */
async function* streamDeltas(
  exchange: Exchange,
  deltas: string[],
  pace: { between: number },
  cut: Cut | undefined,
  event: (delta: string) => string,
  errorEvent: string,
): AsyncGenerator<string, boolean> {
  for (const [i, delta] of deltas.entries()) {
    if (cut && i === cut.afterDeltas) break;
    if (i > 0 && !(await exchange.wait(pace.between))) return false;
    yield event(delta);
    exchange.record.deltasSent++;
  }
  if (!cut) return true;
  if (cut.how === "reset" || cut.how === undefined) throw STREAM_CUT;
  exchange.finish("cut");
  if (cut.how === "error_event") yield errorEvent;
  return false;
}
