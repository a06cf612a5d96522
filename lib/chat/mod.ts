/**
 * The chat: two modes (chat with memory, essay without), one bill per answer, for every channel.
 *
 * - {@link answerOnce}: the whole answer at once (WhatsApp, API clients that do not stream);
 * - {@link startStream} / {@link followStream}: the web's streamed answer, detached from the
 *   request that asked for it, resumable on any instance (lib/chat/streams.ts);
 * - {@link resetConversation}: the user's "new chat".
 *
 * Knows nothing of HTTP: failures are {@link ChatError}s (an AppError carrying the chat's code)
 * or, for answerOnce, a returned `{ ok: false, code, userMessage }`.
 */
import { AppError } from "../errors.ts";
import { type AnswerInput, type ChatServices, prepareAnswer } from "./answer.ts";
import { runAnswer } from "./run.ts";
import {
  type Channel,
  closeOpenConversations,
  getMessage,
  type Message,
  type Mode,
} from "./conversations.ts";
import { ChatError, type ChatErrorCode } from "./errors.ts";
import { Generation, isTerminal, type Reader, type StreamEntry } from "./streams.ts";
import { FOLLOW_RENEW_MS } from "./answer_events.ts";

export {
  type BotAnswer,
  type ChatDeps,
  type ChatRuntime,
  type ChatServices,
  createChat,
  createChatRuntime,
  topUpUrl,
} from "./answer.ts";
export { CHAT_ERROR_CODES, ChatError, type ChatErrorCode } from "./errors.ts";
export { MAX_MESSAGE_CHARS, titleOf } from "./title.ts";
export type { StreamEntry, StreamEventName } from "./streams.ts";
export * from "./conversations.ts";
export {
  type AiConfig,
  AiConfigCache,
  defaultConfig,
  type SandboxAi,
  seedDefaultConfig,
  setApiKey,
} from "./configs.ts";

export interface AnswerOnceInput {
  userId: string;
  mode: Mode;
  channel: Channel;
  text: string;
  /** Stops the answer (billed for what was generated, like the stop button). */
  signal?: AbortSignal;
}

export type AnswerOnceResult =
  | {
    ok: true;
    text: string;
    conversationId: string;
    messageId: string;
    cost: number;
    balance: number;
  }
  | { ok: false; code: ChatErrorCode; userMessage: string };

/**
 * Answers one user message whole (WhatsApp, Telegram): a chat answer is asked of the model in
 * one non-streaming request, an essay is streamed and collected. Picks the user's open conversation of
 * that mode+channel within the idle TTL, or starts one; essay always fresh. Bills like the web.
 * Never throws for AI/billing problems: returns them.
 */
export async function answerOnce(
  s: ChatServices,
  input: AnswerOnceInput,
): Promise<AnswerOnceResult> {
  let prepared;
  try {
    prepared = await prepareAnswer(s, {
      userId: input.userId,
      mode: input.mode,
      channel: input.channel,
      text: input.text,
      // An essay is long enough to outlast the silence limit, which a whole answer must beat
      // from the request to its last word: essays stream, the rest comes in one response.
      whole: input.mode !== "essay",
    });
  } catch (error) {
    if (error instanceof ChatError) {
      return { ok: false, code: error.chatCode, userMessage: error.userMessage };
    }
    throw error;
  }
  const stop = () => prepared.abort.abort("stopped by the caller");
  if (input.signal?.aborted) stop();
  input.signal?.addEventListener("abort", stop, { once: true });
  const unwatch = s.runtime.stops.watch(prepared.messageId, prepared.abort);
  const outcome = await runAnswer(s, prepared, { delta: () => {} })
    .finally(() => {
      unwatch();
      input.signal?.removeEventListener("abort", stop);
    });
  if (outcome.status === "error") {
    return { ok: false, code: outcome.code, userMessage: outcome.userMessage };
  }
  return {
    ok: true,
    text: outcome.text,
    conversationId: prepared.conversation.id,
    messageId: prepared.messageId,
    cost: outcome.cost,
    balance: outcome.balance,
  };
}

/** Closes the user's open conversation on that channel (the next message starts a new one). */
export async function resetConversation(
  s: ChatServices,
  userId: string,
  channel: Channel,
): Promise<void> {
  await closeOpenConversations(s.db.sql, userId, channel);
}

export interface StartedStream {
  conversationId: string;
  userMessageId: string;
  messageId: string;
  mode: Mode;
  generation: Generation;
}

/**
 * Starts a streamed answer and returns once it is under way (the user's message stored, the
 * estimate reserved); preparation failures throw {@link ChatError} (402, 429, 503) or AppError.
 * The answer then runs on its own: follow it with {@link followStream}.
 */
export async function startStream(
  s: ChatServices,
  input: AnswerInput & { channel: Channel },
): Promise<StartedStream> {
  const runtime = s.runtime;
  const prepared = await prepareAnswer(s, input);
  const settings = await runtime.settings();
  const generation = new Generation(
    prepared.messageId,
    input.userId,
    prepared.abort,
    settings.streamGraceSeconds * 1000,
    runtime.answerEvents,
  );
  generation.emit("start", {
    conversationId: prepared.conversation.id,
    messageId: prepared.messageId,
    userMessageId: prepared.userMessageId,
    mode: prepared.mode,
    model: prepared.ai.config.model,
  });
  const finished = runAnswer(s, prepared, {
    delta: (text) => generation.emit("delta", { text }),
  }).then((outcome) => {
    if (outcome.status === "error") {
      generation.emit("error", {
        code: outcome.code,
        message: outcome.userMessage,
        ...(outcome.retryAfterMs ? { retryAfterMs: outcome.retryAfterMs } : {}),
      });
      return;
    }
    const annotations = input.bot?.annotate?.(outcome.text) ?? {};
    generation.emit("usage", {
      ...annotations,
      tokensIn: outcome.usage?.inputTokens ?? 0,
      tokensOut: outcome.usage?.outputTokens ?? 0,
      estimated: outcome.usage?.estimated ?? false,
      cost: outcome.cost,
      balance: outcome.balance,
    });
    generation.emit("done", {
      ...annotations,
      messageId: prepared.messageId,
      conversationId: prepared.conversation.id,
      status: outcome.status,
      finishReason: outcome.finishReason,
      latencyMs: outcome.latencyMs,
      ttftMs: outcome.ttftMs,
    });
  }).catch((error) => {
    s.log.error("answer crashed", { error, messageId: prepared.messageId });
    generation.emit("error", { code: "unavailable", message: "Something went wrong." });
  });
  runtime.streams.add(generation, finished);
  // A stop request may reach another process: it is recorded in Postgres and found here.
  finished.finally(runtime.stops.watch(prepared.messageId, prepared.abort));
  return {
    conversationId: prepared.conversation.id,
    userMessageId: prepared.userMessageId,
    messageId: prepared.messageId,
    mode: prepared.mode,
    generation,
  };
}

/** How often a follower on another instance reads the store when no notification came. */
const FOLLOW_POLL_MS = { embedded: 200, server: 1_000 } as const;
/** A follower gives up on an answer that has written nothing for this long. */
const FOLLOW_IDLE_MS = 5 * 60_000;

/**
 * Follows an answer's events after `afterId` (the `Last-Event-ID` of a reconnecting client):
 * from memory when this process runs it, else from the answer events every instance writes
 * (answer_events.ts), woken by their notifications and polling meanwhile. `onEntry` is called
 * in order, each event once; the returned promise resolves after the terminal event, or when
 * `signal` aborts (the reader left).
 */
export async function followStream(
  s: ChatServices,
  input: { userId: string; messageId: string; afterId: number; signal: AbortSignal },
  onEntry: Reader,
): Promise<void> {
  const message = await getMessage(s.db.sql, input.userId, input.messageId);
  if (!message || message.role !== "assistant") {
    throw new AppError("not_found", "This answer does not exist.");
  }
  const local = s.runtime.streams.get(input.messageId);
  if (local) return await followGeneration(local, input.afterId, input.signal, onEntry);
  const store = s.runtime.answerEvents;
  let wake = () => {};
  const unwatch = await store.watch(input.messageId, () => wake());
  let renewedAt = 0;
  try {
    let after = input.afterId;
    let lastNews = Date.now();
    while (!input.signal.aborted) {
      if (Date.now() - renewedAt >= FOLLOW_RENEW_MS) {
        renewedAt = Date.now();
        await store.markFollowed(input.messageId);
      }
      // Generated here after all (it started after the check above): follow it from memory.
      const started = s.runtime.streams.get(input.messageId);
      if (started) return await followGeneration(started, after, input.signal, onEntry);
      const woken = new Promise<void>((resolve) => wake = resolve);
      const entries = await store.read(input.messageId, after);
      for (const entry of entries) {
        onEntry(entry);
        after = entry.id;
        if (isTerminal(entry)) return;
      }
      if (entries.length > 0) lastNews = Date.now();
      else {
        const current = await getMessage(s.db.sql, input.userId, input.messageId);
        // The status is written before the answer's last events are: they are waited for a
        // while, then the end is told without them (pruned, or their instance died).
        if (current && current.status !== "streaming") {
          // The reader saw the stored end already (its id is past it): nothing is left.
          const end = await store.endSeq(input.messageId);
          if (end !== null && end <= after) return;
        }
        if (current && current.status !== "streaming" && endedLongAgo(current)) {
          onEntry(endedEntry(current, after + 1));
          return;
        }
        if (Date.now() - lastNews > FOLLOW_IDLE_MS) return;
      }
      await waitFor(woken, FOLLOW_POLL_MS[s.db.kind], input.signal);
    }
  } finally {
    unwatch();
  }
}

/** How long after an answer's end its last events may still be on their way to the store. */
const END_SETTLE_MS = 5_000;

const endedLongAgo = (message: Message) =>
  message.completedAt === null || Date.now() - message.completedAt.getTime() > END_SETTLE_MS;

/** How an answer ended, for a reader whose events are no longer stored. */
function endedEntry(message: Message, id: number): StreamEntry {
  return {
    id,
    event: message.status === "error" ? "error" : "done",
    data: message.status === "error"
      ? { code: message.errorCode ?? "unavailable", message: "The answer did not complete." }
      : {
        messageId: message.id,
        conversationId: message.conversationId,
        status: message.status,
        expired: true,
      },
  };
}

/** Resolves when `woken` does, after `ms`, or when `signal` aborts. */
function waitFor(woken: Promise<void>, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    woken.then(done);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/**
 * Follows a generation of this process from memory: replays what came after `afterId`, then the
 * live events, until the terminal one or until `signal` aborts (which only detaches the reader).
 */
export function followGeneration(
  generation: Generation,
  afterId: number,
  signal: AbortSignal,
  onEntry: Reader,
): Promise<void> {
  return new Promise<void>((resolve) => {
    let detach = () => {};
    const finish = () => {
      detach();
      signal.removeEventListener("abort", finish);
      resolve();
    };
    detach = generation.attach(afterId, (entry) => {
      onEntry(entry);
      if (isTerminal(entry)) queueMicrotask(finish);
    });
    if (generation.finished) return finish();
    signal.addEventListener("abort", finish, { once: true });
  });
}

/**
 * Stops an answer (the stop button), whichever process generates it: the request is recorded on
 * the message, where the generating process's `StopWatch` (stop_watch.ts) finds it within a
 * few hundred milliseconds; here, it is aborted at once. Billed like any stop: what was generated.
 * "finished" when the answer was already over.
 */
export async function stopAnswer(
  s: ChatServices,
  userId: string,
  messageId: string,
): Promise<"stopped" | "finished"> {
  const message = await getMessage(s.db.sql, userId, messageId);
  if (!message || message.role !== "assistant") {
    throw new AppError("not_found", "This answer does not exist.");
  }
  const marked = await s.db.sql`
    update messages set stop_requested_at = coalesce(stop_requested_at, now())
    where id = ${messageId} and user_id = ${userId} and status = 'streaming'
    returning id`;
  if (marked.length === 0) return "finished";
  const local = s.runtime.streams.get(messageId);
  if (local && !local.finished) local.abort.abort("stopped by the user");
  return "stopped";
}
