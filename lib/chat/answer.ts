/**
 * One answer, from the user's message to the settled bill (step 2 is in run.ts):
 *
 * 1. *prepare* (before any model call; its failures are the caller's 402/429/503): pick or start
 *    the conversation, keep the user's message, assemble the context within the budget, check the
 *    daily cap, reserve the estimate (prompt + the most the answer may cost) from the wallet and
 *    record the assistant message as `streaming`;
 * 2. *run*: stream from the provider to a sink, then settle: the reported usage × the
 *    configuration's prices (an aborted answer: what was generated; a failure: nothing, the
 *    reservation released), store model, tokens, cost, latency and time to first token on the
 *    message, tell the user's other screens (`wallet.updated`) and the product that the
 *    conversation has new messages (`conversation.message`); when the budget dropped
 *    turns and the configuration has a summary model, queue their summary (summaries.ts).
 *    Never throws.
 */
import { AiError, type ChatMessage, type StreamEvent } from "../ai/mod.ts";
import { refreshAhead } from "../cache.ts";
import { formatCount } from "../format.ts";
import { assertWithinDailyCap, dailyCapError, tierCache } from "../accounts/tiers.ts";
import type { Config } from "../config.ts";
import type { Database } from "../db/mod.ts";
import { AppError } from "../errors.ts";
import type { Enqueuer } from "../jobs/types.ts";
import type { Logger } from "../observability/log.ts";
import pLimit from "p-limit";
import { release, type Reservation, reserve } from "../wallet/reservations.ts";
import { type ActiveAi, AiConfigCache } from "./configs.ts";
import { assembleContext, priceOf } from "./context.ts";
import {
  type Channel,
  type ChatSettings,
  chatSettings,
  type Conversation,
  conversationMemory,
  findOpenBotConversation,
  findOpenConversation,
  getBotConversation,
  getConversation,
  isOpen,
  type Memory,
  type Mode,
} from "./conversations.ts";
import { ACCOUNT_DISABLED_MESSAGE, ChatError, NOT_CONFIGURED_MESSAGE } from "./errors.ts";
import { StopWatch } from "./stop_watch.ts";
import { MAX_MESSAGE_CHARS, titleOf } from "./title.ts";
import { StreamRegistry } from "./streams.ts";
import { AnswerEventStore } from "./answer_events.ts";
import { type EagerStream, startUpstreamCall, wholeAnswerEvents } from "./upstream.ts";
import { announceMessages } from "./run.ts";

/** What the chat is built from. */
export interface ChatDeps {
  db: Database;
  kv: Deno.Kv;
  log: Logger;
  config: Config;
  /** Queues summaries of dropped turns; without it, dropped turns are only dropped. */
  jobs?: Enqueuer;
}

/** The chat of one app instance (createChat): its dependencies and the state it owns. */
export interface ChatServices extends ChatDeps {
  runtime: ChatRuntime;
}

/** State shared by every caller in one app instance (config cache, live streams). */
export interface ChatRuntime {
  /** Bounds the answers being prepared at once (see {@link PREPARE_CONCURRENCY}). */
  admit: ReturnType<typeof pLimit>;
  ai: AiConfigCache;
  streams: StreamRegistry;
  /** The answers' events where every instance reads them (a resume on another instance). */
  answerEvents: AnswerEventStore;
  /** Stop requests made on any process, for the answers this one generates. */
  stops: StopWatch;
  tiers: ReturnType<typeof tierCache>;
  settings(): Promise<ChatSettings>;
}

/**
 * Answers prepared at once per process; more wait their turn. A burst of questions then queues
 * here in memory instead of as hundreds of pipelined statements on the database connections.
 * (It was first added against postgres.js's `sql.begin` race at a full pipeline, which
 * lib/db/transaction.ts now removes for every caller.)
 */
export const PREPARE_CONCURRENCY = 32;

export function createChatRuntime(deps: Pick<ChatDeps, "db" | "log" | "config">): ChatRuntime {
  // Refreshed ahead (lib/cache.ts): a request never waits on the re-read.
  const settings = refreshAhead(() => chatSettings(deps.db.sql), 1_000);
  return {
    admit: pLimit(PREPARE_CONCURRENCY),
    ai: new AiConfigCache(deps.db.sql, deps.config.encryptionKey),
    streams: new StreamRegistry(),
    answerEvents: new AnswerEventStore(
      deps.db,
      (error) => deps.log.error("storing an answer's events failed", { error }),
    ),
    stops: new StopWatch(
      deps.db.sql,
      (error) => deps.log.warn("checking for stop requests failed", { error }),
    ),
    tiers: tierCache(deps.db.sql),
    settings: () => settings.get(),
  };
}

/**
 * @example
 * const chat = createChat({ db, kv, log, config, jobs: queue });
 * const answer = await answerOnce(chat, { userId, mode: "chat", channel: "web", text: "Hi" });
 */
export function createChat(deps: ChatDeps): ChatServices {
  return { ...deps, runtime: createChatRuntime(deps) };
}

export interface AnswerInput {
  userId: string;
  mode: Mode;
  channel: Channel;
  text: string;
  /** Continue this conversation (web); otherwise the open one on the channel, or a new one. */
  conversationId?: string;
  /** Start a new conversation (the web's "New chat") instead of continuing the open one. */
  fresh?: boolean;
  /** A bot answers instead of the user's own assistant (the user is its owner, who pays). */
  bot?: BotAnswer;
  /**
   * The answer is sent whole (WhatsApp, Telegram): the model is asked for it in one
   * non-streaming request, which costs less than reading it as a stream.
   */
  whole?: boolean;
}

/**
 * What a bot (lib/bots) brings to an answer: its prompt with the knowledge found for the
 * question, its model settings, and whose conversation it is. Reservation, metering, streaming
 * and resuming are the chat's own; the bot's conversations stay out of its owner's chat.
 */
export interface BotAnswer {
  botId: string;
  /** The visitor's anonymous id; null when the owner asks through the API. */
  visitorId: string | null;
  systemPrompt: string;
  temperature: number;
  /** One of the active AI configurations' models; null → the default configuration. */
  model: string | null;
  /** Fields added to the answer's `usage` and `done` events (its citations). */
  annotate?(text: string): Record<string, unknown>;
}

export interface PreparedAnswer {
  conversation: Conversation;
  userMessageId: string;
  messageId: string;
  ai: ActiveAi;
  mode: Mode;
  messages: ChatMessage[];
  inputEstimate: number;
  turnsKept: number;
  /** The newest turn the budget left out (a summary can cover up to it); null when none. */
  droppedThrough: string | null;
  maxOutputTokens: number;
  /** The configuration's, or the bot's. */
  temperature: number;
  /** The bot answering, if any. */
  botId: string | null;
  reservation: Reservation | null;
  startedAt: number;
  /** The upstream call, already under way (started while the preparation wrote its rows). */
  upstream: EagerStream;
  /** Another upstream call for `messages`, of the same kind (streamed or whole). */
  call(messages: ChatMessage[]): AsyncIterable<StreamEvent>;
  /** Stops the upstream call (stop button, grace period over, caller's signal). */
  abort: AbortController;
}

export { MAX_MESSAGE_CHARS };

/** Where a user with too few tokens is sent. */
export function topUpUrl(config: Config): string {
  return `${config.publicUrl}/account#top-up`;
}

/**
 * Step 1; throws {@link ChatError} (or `AppError` not_found for a foreign conversation).
 *
 * Reads first (conversation, history, configuration, tier and balance), then — the checks passed —
 * starts the upstream call and, once its request has left, writes while the model thinks: the
 * reservation, the conversation if new, the user's message and the assistant's placeholder.
 * A reservation that fails after all (another answer took the tokens meanwhile) aborts the call
 * before any output is shown. When a check fails, the user's message is still stored in the
 * conversation it continues; a refused first message creates no conversation (it would be left
 * holding only the question).
 */
export function prepareAnswer(s: ChatServices, input: AnswerInput): Promise<PreparedAnswer> {
  const startedAt = performance.now();
  return s.runtime.admit(() => prepare(s, input, startedAt));
}

async function prepare(
  s: ChatServices,
  input: AnswerInput,
  startedAt: number,
): Promise<PreparedAnswer> {
  const sql = s.db.sql;
  const runtime = s.runtime;
  const text = input.text.trim();
  if (!text) throw new AppError("validation_failed", "text: write a message first.");
  if (text.length > MAX_MESSAGE_CHARS) {
    throw new AppError(
      "validation_failed",
      `text: a message may have at most ${MAX_MESSAGE_CHARS} characters.`,
    );
  }
  // The wallet, tier and disabled flag in one read, overlapping the lookups below.
  const accountRead = sql<Account[]>`
    select u.tier, u.disabled_at is not null as disabled, a.balance - a.reserved as available
    from users u join ledger_accounts a on a.user_id = u.id where u.id = ${input.userId}`
    .then((rows): Account | undefined => rows[0]);
  accountRead.catch(() => {}); // awaited below, unless an earlier check refuses first
  const settings = await runtime.settings();

  let conversation: Conversation | null = null;
  /** The conversation's memory, when read with it. */
  let remembered: Memory | null = null;
  let mode = input.mode;
  const bot = input.bot;
  if (input.conversationId) {
    const chosen = bot
      ? await getBotConversation(sql, {
        botId: bot.botId,
        visitorId: bot.visitorId,
        id: input.conversationId,
      })
      : await getConversation(sql, input.userId, input.conversationId);
    if (!chosen) throw new AppError("not_found", "This conversation does not exist.");
    mode = chosen.mode;
    // An idled-out or closed chat (and any essay, which holds one question) continues in a new
    // conversation: the caller learns its id from the answer.
    if (isOpen(chosen, settings)) conversation = chosen;
  } else if (mode === "chat" && bot) {
    conversation = await findOpenBotConversation(sql, {
      botId: bot.botId,
      visitorId: bot.visitorId,
      idleTtlMinutes: settings.idleTtlMinutes,
    });
  } else if (mode === "chat" && !input.fresh) {
    const open = await findOpenConversation(sql, {
      userId: input.userId,
      channel: input.channel,
      idleTtlMinutes: settings.idleTtlMinutes,
    });
    conversation = open?.conversation ?? null;
    remembered = open?.memory ?? null;
  }
  // Turns a stored summary covers are not loaded: the summary stands in for them.
  const memory = remembered ??
    (conversation ? await conversationMemory(sql, conversation.id) : { summary: null, turns: [] });
  const history = memory.turns;
  const title = titleOf(text);

  /** Stores the user's message (and the conversation, when new) in one statement. */
  const keepUserMessage = async (assistant?: {
    config: ActiveAi["config"];
    reservationId: string | null;
  }) => {
    // The conversation is touched when it continues, created when it is new.
    const target = conversation
      ? sql`update conversations set last_activity_at = now(), title = coalesce(title, ${title})
            where id = ${conversation.id} returning id`
      : sql`insert into conversations (user_id, mode, channel, title, bot_id, visitor_id)
            values (${input.userId}, ${mode}, ${input.channel}, ${title},
                    ${bot?.botId ?? null}, ${bot?.visitorId ?? null}) returning id`;
    const placeholder = assistant
      ? sql`, ('assistant', '', 'streaming', ${assistant.config.id}::uuid,
               ${assistant.config.model}, ${assistant.reservationId}::uuid, 2)`
      : sql``;
    const rows = await sql<{ id: string; conversation_id: string; role: "user" | "assistant" }[]>`
      with target as (${target})
      insert into messages (conversation_id, user_id, role, content, status, channel, mode,
                            ai_config_id, model, reservation_id, bot_id)
      select target.id, ${input.userId}, m.role, m.content, m.status, ${input.channel},
             ${mode}, m.config, m.model, m.reservation, ${bot?.botId ?? null}::uuid
      from target, (values
        ('user', ${text}, 'complete', null::uuid, null, null::uuid, 1) ${placeholder}
      ) as m (role, content, status, config, model, reservation, n)
      order by m.n
      returning id, conversation_id, role`;
    const user = rows.find((r) => r.role === "user")!;
    const answer = rows.find((r) => r.role === "assistant");
    return {
      conversationId: user.conversation_id,
      userMessageId: user.id,
      messageId: answer?.id,
    };
  };
  /** Stops the upstream call (stop button, grace period over, a refusal before any output). */
  const abort = new AbortController();
  /**
   * A check failed: the model call, if it started, stops before any output is shown; the user's
   * message is kept when it continues a conversation; the refusal goes to the caller.
   */
  const refuse = async (error: Error): Promise<never> => {
    abort.abort("refused");
    if (conversation) {
      const kept = await keepUserMessage();
      announceMessages(s, kept.conversationId, [kept.userMessageId]);
    }
    throw error;
  };

  let ai: ActiveAi | null;
  try {
    ai = bot?.model ? await runtime.ai.forModel(bot.model) : await runtime.ai.active();
  } catch (error) {
    if (!(error instanceof AiError)) throw error;
    s.log.error("AI configuration unusable", { error: error.message });
    ai = null;
  }
  if (!ai) return await refuse(new ChatError("not_configured", NOT_CONFIGURED_MESSAGE));

  const assembled = assembleContext({
    mode,
    systemPrompt: bot?.systemPrompt ??
      (mode === "essay" ? ai.config.essayPrompt : ai.config.chatPrompt),
    history,
    text,
    budget: ai.config.contextTokens,
    count: (m) => ai.provider.countTokens(m),
    summary: memory.summary,
  });
  const maxOutputTokens = mode === "essay"
    ? ai.config.essayMaxOutputTokens
    : ai.config.maxOutputTokens;
  const temperature = bot?.temperature ?? ai.config.temperature;
  const prices = { inputPer1k: ai.config.priceInputPer1k, outputPer1k: ai.config.priceOutputPer1k };
  const estimate = priceOf(
    { inputTokens: assembled.inputTokens, outputTokens: maxOutputTokens },
    prices,
  );

  let reservation: Reservation | null = null;
  try {
    const account = await accountRead;
    if (!account) throw new AppError("not_found", "This account does not exist.");
    // Disabled since the caller was identified (a request in flight, a WhatsApp message):
    // spending is refused the moment an account is disabled.
    if (account.disabled) throw new ChatError("account_disabled", ACCOUNT_DISABLED_MESSAGE);
    const tier = await runtime.tiers(account.tier);
    const capReached = (error: AppError) =>
      refuse(new ChatError("cap_reached", error.message, error.details as Record<string, unknown>));
    try {
      await assertWithinDailyCap(sql, {
        userId: input.userId,
        tier,
        estimate,
        timeZone: s.config.tzMetrics,
      });
    } catch (error) {
      if (error instanceof AppError && error.code === "rate_limited") {
        return await capReached(error);
      }
      throw error;
    }
    const insufficient = (available: number) =>
      new ChatError(
        "insufficient_funds",
        `You don't have enough tokens for this ${mode === "essay" ? "essay" : "answer"}: ` +
          `it needs up to ${formatCount(estimate)} and you have ` +
          `${formatCount(Math.max(0, available))}. ` +
          `Top up at ${topUpUrl(s.config)} and try again.`,
        { needed: estimate, available: Math.max(0, available), topUpUrl: topUpUrl(s.config) },
      );
    if (estimate > Number(account.available)) {
      return await refuse(insufficient(Number(account.available)));
    }

    // The checks passed: the model starts on the answer; once its request has left, the rows
    // are written while it thinks.
    const call = (messages: ChatMessage[], onRequestSent?: () => void) => {
      const options = { maxOutputTokens, temperature, onRequestSent };
      return input.whole
        ? wholeAnswerEvents(ai.provider.complete(messages, options, abort.signal))
        : ai.provider.stream(messages, options, abort.signal);
    };
    const upstream = startUpstreamCall((onRequestSent) => call(assembled.messages, onRequestSent));
    await upstream.left;
    if (estimate > 0) {
      try {
        reservation = await reserve(sql, {
          userId: input.userId,
          amount: estimate,
          purpose: bot ? "bot" : `chat:${mode}`,
          // The cap is held here too: answers started at the same moment passed the check above.
          dailyCap: { cap: tier.dailyTokenCap, timeZone: s.config.tzMetrics },
        });
      } catch (error) {
        if (error instanceof AppError && error.code === "rate_limited") {
          return await capReached(dailyCapError(tier, (error.details as { used: number }).used));
        }
        if (error instanceof AppError && error.code === "insufficient_balance") {
          return await refuse(
            insufficient((error.details as { available: number }).available),
          );
        }
        throw error;
      }
    }
    const stored = await keepUserMessage({
      config: ai.config,
      reservationId: reservation?.id ?? null,
    });
    conversation ??= {
      id: stored.conversationId,
      userId: input.userId,
      mode,
      channel: input.channel,
      title,
      summary: null,
      createdAt: new Date(),
      lastActivityAt: new Date(),
      closedAt: null,
      botId: bot?.botId ?? null,
      visitorId: bot?.visitorId ?? null,
    };
    return {
      conversation,
      userMessageId: stored.userMessageId,
      messageId: stored.messageId!,
      ai,
      mode,
      messages: assembled.messages,
      inputEstimate: assembled.inputTokens,
      turnsKept: assembled.turnsKept,
      droppedThrough: assembled.turnsDropped > 0
        ? history[assembled.turnsDropped - 1].id ?? null
        : null,
      maxOutputTokens,
      temperature,
      botId: bot?.botId ?? null,
      reservation,
      startedAt,
      upstream: upstream.stream,
      call: (messages) => call(messages),
      abort,
    };
  } catch (error) {
    abort.abort("preparation failed");
    if (reservation) await release(sql, reservation.id).catch(() => {});
    throw error;
  }
}

/** What the preparation reads of the user's account. */
interface Account {
  tier: string;
  disabled: boolean;
  /** Balance less what other answers hold (a bigint column: a string or a number). */
  available: string | number;
}
