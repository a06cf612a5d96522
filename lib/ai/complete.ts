/**
 * A whole answer in one non-streaming request (`stream: false`), for callers that send it whole
 * (WhatsApp, Telegram, summaries): no event stream to parse, one JSON body instead. The rules
 * match streaming's (stream.ts): the same retries and waits, the silence limit per attempt (here
 * it covers the whole answer, since nothing arrives before it), caller abort, typed errors, and
 * usage counted locally (marked estimated) when the upstream reports none.
 */
import { AiError } from "./errors.ts";
import { type RetrySettings, withRetry } from "./retry.ts";
import { AttemptSignal } from "./stream.ts";
import { countTextTokens } from "./tokens.ts";
import type { Completion, FinishReason, ProviderName } from "./types.ts";

/** What an adapter reads from one non-streaming answer, normalised. */
export interface UpstreamAnswer {
  text: string;
  inputTokens?: number;
  outputTokens?: number;
  finishReason: FinishReason;
}

export interface CompletionPlan {
  provider: ProviderName;
  /** Makes one upstream request; aborting `signal` must abort it. */
  request(signal: AbortSignal): Promise<UpstreamAnswer>;
  classify(error: unknown): AiError;
  /** Local count of the prompt, used when the upstream does not report input tokens. */
  estimateInput(): number;
  timeoutMs: number;
  retry: RetrySettings;
  signal?: AbortSignal;
}

/** Runs a {@link CompletionPlan}: see the module comment for the rules it keeps. */
export async function driveCompletion(plan: CompletionPlan): Promise<Completion> {
  const classify = (error: unknown) => error instanceof AiError ? error : plan.classify(error);
  const answer = await withRetry(
    async () => {
      const attempt = new AttemptSignal(plan.signal, plan.timeoutMs);
      attempt.arm();
      try {
        return await plan.request(attempt.signal);
      } catch (error) {
        throw attempt.failure(error) ?? classify(error);
      } finally {
        attempt.dispose();
      }
    },
    classify,
    plan.retry,
    plan.signal,
  );
  const estimated = answer.inputTokens === undefined || answer.outputTokens === undefined;
  return {
    text: answer.text,
    usage: {
      inputTokens: answer.inputTokens ?? plan.estimateInput(),
      outputTokens: answer.outputTokens ?? countTextTokens(answer.text),
      estimated,
    },
    finishReason: answer.finishReason,
  };
}
