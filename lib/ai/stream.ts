/**
 * The part of streaming that is the same for every provider: per-attempt timeout and caller
 * abort, retries before the first delta and never after, "the usage record comes last", usage
 * estimated locally when the upstream reports none, and a stream that stops short reported as a
 * failure rather than passed off as a complete answer.
 *
 * Adapters only translate: `open` turns one SDK stream into {@link UpstreamEvent}s and
 * `classify` turns an SDK error into an {@link AiError}.
 */
import { AiAbortedError, AiError, AiTimeoutError, AiUpstreamError } from "./errors.ts";
import { retryDelay, type RetrySettings, sleep } from "./retry.ts";
import { countTextTokens } from "./tokens.ts";
import type { FinishReason, ProviderName, StreamEvent } from "./types.ts";

/** Longest silence tolerated from an upstream when neither the call nor the config says. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** What an adapter reads from its upstream, normalised. Usage reports merge, the last wins. */
export type UpstreamEvent =
  | { type: "delta"; text: string }
  | { type: "usage"; inputTokens?: number; outputTokens?: number }
  | { type: "finish"; reason: FinishReason };

export interface StreamPlan {
  provider: ProviderName;
  /** Starts one upstream request; aborting `signal` must abort it. */
  open(signal: AbortSignal): AsyncIterable<UpstreamEvent>;
  classify(error: unknown): AiError;
  /** Local count of the prompt, used when the upstream does not report input tokens. */
  estimateInput(): number;
  timeoutMs: number;
  retry: RetrySettings;
  signal?: AbortSignal;
}

/**
 * The abort signal of one upstream attempt: it fires when the caller aborts or when the
 * upstream stays silent for `timeoutMs` while armed. The SDKs end a stream quietly when its
 * request is aborted, so after every read {@link AttemptSignal.failure} tells whether the end was
 * ours.
 */
export class AttemptSignal {
  readonly #controller = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the silence limit runs out while armed (ms, performance.now()); NaN when disarmed. */
  #deadline = NaN;
  #timedOut = false;
  readonly #onCallerAbort = () => this.#controller.abort();

  constructor(
    private readonly caller: AbortSignal | undefined,
    private readonly timeoutMs: number,
  ) {
    if (caller?.aborted) this.#controller.abort();
    caller?.addEventListener("abort", this.#onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * Starts the silence timer (while waiting for the upstream). Armed and disarmed around every
   * chunk, it moves a deadline rather than the timer: one timer per attempt, set again only when
   * it fires early, instead of a timer made and cleared per chunk (each cleared one is garbage
   * that outlives young-generation collections until its original time).
   */
  arm(): void {
    this.#deadline = performance.now() + this.timeoutMs;
    this.#timer ??= setTimeout(() => this.#check(), this.timeoutMs);
  }

  /** Stops it (while the consumer holds a delta: a slow reader is not a slow upstream). */
  disarm(): void {
    this.#deadline = NaN;
  }

  #check(): void {
    this.#timer = undefined;
    if (Number.isNaN(this.#deadline) || this.#controller.signal.aborted) return;
    const left = this.#deadline - performance.now();
    if (left > 0) {
      this.#timer = setTimeout(() => this.#check(), left);
      return;
    }
    this.#timedOut = true;
    this.#controller.abort();
  }

  /** The error to report if the attempt ended because of us rather than the upstream. */
  failure(cause?: unknown): AiError | undefined {
    if (this.caller?.aborted) return new AiAbortedError("aborted by the caller", { cause });
    if (this.#timedOut) {
      return new AiTimeoutError(`no answer from the upstream within ${this.timeoutMs} ms`, {
        cause,
      });
    }
    return undefined;
  }

  /** Ends the attempt: releases the timer and listener, and aborts a request still open. */
  dispose(): void {
    this.disarm();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.caller?.removeEventListener("abort", this.#onCallerAbort);
    this.#controller.abort();
  }
}

/** Runs a {@link StreamPlan}: see the module comment for the rules it enforces. */
export async function* driveStream(plan: StreamPlan): AsyncGenerator<StreamEvent, void, undefined> {
  let text = "";
  let reported: { inputTokens?: number; outputTokens?: number } = {};
  const usageSoFar = () => ({
    inputTokens: reported.inputTokens ?? plan.estimateInput(),
    outputTokens: reported.outputTokens ?? countTextTokens(text),
  });

  for (let attempt = 1;; attempt++) {
    const attemptSignal = new AttemptSignal(plan.signal, plan.timeoutMs);
    const upstream = plan.open(attemptSignal.signal)[Symbol.asyncIterator]();
    let finish: FinishReason | undefined;
    let wait: number | undefined;
    reported = {};
    try {
      for (;;) {
        attemptSignal.arm();
        let step: IteratorResult<UpstreamEvent>;
        try {
          step = await upstream.next();
        } finally {
          attemptSignal.disarm();
        }
        const ours = attemptSignal.failure();
        if (ours) throw ours;
        if (step.done) break;
        const event = step.value;
        if (event.type === "delta") {
          if (event.text === "") continue;
          text += event.text;
          yield { type: "delta", text: event.text };
        } else if (event.type === "usage") {
          reported = { ...reported, ...definedOnly(event) };
        } else {
          finish = event.reason;
        }
      }
      if (finish === undefined) {
        throw new AiUpstreamError("the stream ended before the answer was complete", {
          provider: plan.provider,
        });
      }
      const estimated = reported.inputTokens === undefined || reported.outputTokens === undefined;
      yield { type: "usage", ...usageSoFar(), estimated, finishReason: finish };
      return;
    } catch (thrown) {
      const error = attemptSignal.failure(thrown) ??
        (thrown instanceof AiError ? thrown : plan.classify(thrown));
      error.attempts = attempt;
      if (text !== "") {
        // Never retried: the user has seen part of an answer, a retry would start another one.
        error.partialUsage = { ...usageSoFar(), estimated: true };
        throw error;
      }
      wait = retryDelay(error, attempt, plan.retry);
      if (wait === undefined) throw error;
    } finally {
      attemptSignal.dispose();
      // Closes the SDK stream (already aborted above, so this does not wait on the network).
      await upstream.return?.().catch(() => {});
    }
    await sleep(wait ?? 0, plan.signal).catch((error: AiError) => {
      error.attempts = attempt;
      throw error;
    });
  }
}

function definedOnly(usage: { inputTokens?: number; outputTokens?: number }) {
  const out: { inputTokens?: number; outputTokens?: number } = {};
  if (typeof usage.inputTokens === "number") out.inputTokens = usage.inputTokens;
  if (typeof usage.outputTokens === "number") out.outputTokens = usage.outputTokens;
  return out;
}
