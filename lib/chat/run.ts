/**
 * Step 2 of an answer (answer.ts prepares it): stream from the provider to a sink, then settle:
 * the reported usage × the configuration's prices (an aborted answer: what was generated; a
 * failure: nothing, the reservation released), store model, tokens, cost, latency and time to
 * first token on the message, tell the user's other screens (`wallet.updated`) and the product
 * that the conversation has new messages (`conversation.message`); when the
 * budget dropped turns and the configuration has a summary model, queue their summary
 * (summaries.ts). Never throws.
 */
import {
  AiAbortedError,
  AiContextTooLongError,
  AiError,
  AiNotConfiguredError,
  countTextTokens,
  estimateTokens,
  type FinishReason,
  type Usage,
} from "../ai/mod.ts";
import { type HubEvent, publishAll, publishProductEvent } from "../events.ts";
import { getBalance } from "../wallet/ledger.ts";
import { release, settle } from "../wallet/reservations.ts";
import type { ChatServices, PreparedAnswer } from "./answer.ts";
import { priceOf } from "./context.ts";
import { chatCodeOf, type ChatErrorCode } from "./errors.ts";
import { summarizeDedupe, summarizeJob } from "./summaries.ts";

/**
 * Tells the product a conversation has new messages (the `conversation.message` product event,
 * which the notifications may mirror to a topic), once they are stored as they end. A lost
 * announcement is logged; the answer never waits for it.
 */
export function announceMessages(
  s: ChatServices,
  conversationId: string,
  messageIds: string[],
): void {
  publishAll(s.db, [messagesEvent(conversationId, messageIds)])
    .catch((error) => s.log.warn("new messages not announced", { conversationId, error }));
}

/** The `conversation.message` product event. */
function messagesEvent(conversationId: string, messageIds: string[]): HubEvent {
  return { userId: null, type: "conversation.message", data: { conversationId, messageIds } };
}

/** Receives the answer as it is generated. */
export interface AnswerSink {
  delta(text: string): void;
}

export type AnswerOutcome =
  | {
    status: "complete" | "aborted";
    text: string;
    usage: Usage | null;
    cost: number;
    balance: number;
    finishReason: FinishReason | null;
    latencyMs: number;
    ttftMs: number | null;
  }
  | {
    status: "error";
    text: string;
    code: ChatErrorCode;
    userMessage: string;
    retryAfterMs?: number;
  };

/** Step 2. Never throws: failures come back as the `error` outcome. */
export async function runAnswer(
  s: ChatServices,
  p: PreparedAnswer,
  sink: AnswerSink,
): Promise<AnswerOutcome> {
  const signal = p.abort.signal;
  const sql = s.db.sql;
  const log = s.log.child({ messageId: p.messageId, conversationId: p.conversation.id });
  let text = "";
  let ttftMs: number | null = null;
  let usage: (Usage & { finishReason: FinishReason }) | null = null;
  let failure: AiError | null = null;
  let messages = p.messages;
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      const stream = attempt === 1 ? p.upstream : p.call(messages);
      for await (const event of stream) {
        if (event.type === "delta") {
          ttftMs ??= Math.round(performance.now() - p.startedAt);
          text += event.text;
          sink.delta(event.text);
        } else {
          usage = event;
        }
      }
      failure = null;
    } catch (error) {
      failure = error instanceof AiError
        ? error
        : signal.aborted
        ? new AiAbortedError("aborted", { cause: error })
        : new AiNotConfiguredError(`unexpected failure: ${(error as Error)?.message}`, {
          cause: error,
        });
      if (!(error instanceof AiError)) log.error("answer failed unexpectedly", { error });
    }
    // The model's window is smaller than our budget assumed: once, with the history halved.
    if (
      failure instanceof AiContextTooLongError && text === "" && p.mode === "chat" &&
      p.turnsKept > 0 && attempt === 1
    ) {
      const history = messages.slice(1, -1);
      const keep = history.slice(Math.ceil(history.length / 2));
      while (keep.length > 0 && keep[0].role === "assistant") keep.shift();
      messages = [messages[0], ...keep, messages[messages.length - 1]];
      log.warn("context too long for the model; retrying with less history", {
        turns: keep.length,
      });
      continue;
    }
    break;
  }
  const latencyMs = Math.round(performance.now() - p.startedAt);
  const prices = {
    inputPer1k: p.ai.config.priceInputPer1k,
    outputPer1k: p.ai.config.priceOutputPer1k,
  };

  const aborted = failure instanceof AiAbortedError || (failure !== null && signal.aborted);
  if (failure && !aborted) {
    // A failed call is not billed: the hold is released, the partial text kept for support.
    await closeReservation(s, p, 0).catch((error) => log.error("release failed", { error }));
    const code = chatCodeOf(failure);
    await sql`update messages set status = 'error', content = ${text}, error_code = ${code},
                latency_ms = ${latencyMs}, ttft_ms = ${ttftMs}, cost = 0, completed_at = now()
              where id = ${p.messageId}`;
    announceMessages(s, p.conversation.id, [p.userMessageId, p.messageId]);
    publishProductEvent(s.db, {
      type: "ai.answer_failed",
      data: { code: failure.code, status: failure.status ?? null },
    }).catch((error) => log.warn("answer failure not announced", { error }));
    log.warn("answer failed", {
      code: failure.code,
      attempts: failure.attempts,
      status: failure.status,
      error: failure.message,
    });
    return {
      status: "error",
      text,
      code,
      userMessage: failure.userMessage,
      retryAfterMs: failure.retryAfterMs,
    };
  }

  // Complete, or stopped: bill what was generated (the upstream charges the prompt and the
  // tokens it produced before the stop). Stopped before any output: nothing.
  const billed: Usage | null = usage ??
    (failure?.partialUsage ??
      (text
        ? {
          inputTokens: estimateTokens(messages),
          outputTokens: countTextTokens(text),
          estimated: true,
        }
        : null));
  const cost = billed ? priceOf(billed, prices) : 0;
  let balance: number;
  try {
    balance = await closeReservation(s, p, cost);
  } catch (error) {
    log.error("settling the answer failed", { error });
    balance = (await getBalance(sql, p.conversation.userId)).balance;
  }
  const status = aborted ? "aborted" : "complete";
  await sql`update messages set status = ${status}, content = ${text},
              tokens_in = ${billed?.inputTokens ?? 0}, tokens_out = ${billed?.outputTokens ?? 0},
              usage_estimated = ${billed?.estimated ?? false}, cost = ${cost},
              latency_ms = ${latencyMs}, ttft_ms = ${ttftMs}, completed_at = now()
            where id = ${p.messageId}`;
  // The user's screens hear of the bill and the product of the new messages in one notice.
  await publishAll(s.db, [
    ...(cost > 0
      ? [{
        userId: p.conversation.userId,
        type: "wallet.updated",
        data: { balance, reason: "usage", messageId: p.messageId },
      }]
      : []),
    messagesEvent(p.conversation.id, [p.userMessageId, p.messageId]),
  ]).catch((error) => log.error("answer events not published", { error }));
  await queueSummary(s, p).catch((error) => log.warn("summary not queued", { error }));
  return {
    status,
    text,
    usage: billed,
    cost,
    balance,
    finishReason: usage?.finishReason ?? null,
    latencyMs,
    ttftMs,
  };
}

/**
 * Turns were dropped for the budget and the configuration can summarise: fold them into the
 * conversation's summary in the background, after the bill (the summary is our cost, not the
 * user's, and its failures never reach the answer).
 */
async function queueSummary(s: ChatServices, p: PreparedAnswer): Promise<void> {
  if (p.mode !== "chat" || !p.droppedThrough || !p.ai.config.summaryModel || !s.jobs) return;
  await s.jobs.enqueue(summarizeJob, {
    conversationId: p.conversation.id,
    aiConfigId: p.ai.config.id,
    throughMessageId: p.droppedThrough,
  }, summarizeDedupe(p.conversation.id));
}

/** Settles (`used` > 0) or releases the reservation; returns the balance after. */
async function closeReservation(s: ChatServices, p: PreparedAnswer, used: number) {
  const sql = s.db.sql;
  if (!p.reservation) return (await getBalance(sql, p.conversation.userId)).balance;
  if (used === 0) {
    await release(sql, p.reservation.id);
    return (await getBalance(sql, p.conversation.userId)).balance;
  }
  const result = await settle(sql, p.reservation.id, used, {
    description: p.botId ? "Bot answer" : p.mode === "essay" ? "Essay" : "Chat answer",
    reference: {
      messageId: p.messageId,
      conversationId: p.conversation.id,
      ...(p.botId ? { botId: p.botId } : {}),
    },
  });
  return result?.balance ?? (await getBalance(sql, p.conversation.userId)).balance;
}
