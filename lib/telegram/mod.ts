/**
 * Telegram as a chat channel: a user links their Telegram chat to their account with a code
 * from /account, then chats with the same assistant, billed to the same wallet, as on WhatsApp.
 *
 * - intake.ts: the webhook's work (secret checked in constant time, the update recorded once by
 *   `update_id`, the reply job queued) — nothing slow before the 200;
 * - reply.ts: `telegram.reply`, the conversation (the WhatsApp bot's flows, conversation.ts);
 * - outbox.ts: `telegram.send`, the replies sent in order with retries (`retry_after`);
 * - links.ts: link codes, linking and unlinking.
 *
 * On when TELEGRAM_WEBHOOK_SECRET is set and a bot token is at hand (TELEGRAM_BOT_TOKEN, or the
 * sandbox's fake Bot API); off, the webhook route answers 404.
 *
 * @example
 * const telegram = createTelegramChannel({ db, kv, log, config, jobs: queue, chat, payments,
 *   rateLimiter, api: upstreams.telegram });
 */
import type { Config } from "../config.ts";
import type { Database } from "../db/mod.ts";
import type { Enqueuer } from "../jobs/types.ts";
import type { Logger } from "../observability/log.ts";
import type { Payments } from "../payments/model.ts";
import type { RateLimiter } from "../ratelimit.ts";
import type { ChatPort } from "../whatsapp/bot/mod.ts";
import { createTelegramClient, type TelegramClient } from "./client.ts";

export interface TelegramDeps {
  db: Database;
  kv: Deno.Kv;
  log: Logger;
  config: Config;
  jobs: Enqueuer;
  chat: ChatPort;
  payments: Payments;
  /** Each chat's allowance of messages a minute. */
  rateLimiter: RateLimiter;
  /** The Bot API: TELEGRAM_API_URL and TELEGRAM_BOT_TOKEN, or the sandbox's fake. */
  api: { apiUrl: string; token?: string };
  /** Longest wait for one AI answer; default 120 s. */
  answerTimeoutMs?: number;
  /** Chat memory's idle TTL; default 30 minutes. */
  chatIdleMs?: number;
  now?: () => number;
}

/** The channel of one app instance: what its operations use. */
export interface TelegramChannel {
  db: Database;
  kv: Deno.Kv;
  log: Logger;
  jobs: Enqueuer;
  chat: ChatPort;
  payments: Payments;
  rateLimiter: RateLimiter;
  client: TelegramClient;
  /** Compared with each delivery's `X-Telegram-Bot-Api-Secret-Token`. */
  webhookSecret: string;
  /** Keys the link codes' hashes (APP_SECRET). */
  codeSecret: string;
  publicUrl: () => string;
  botUsername: string | null;
  answerTimeoutMs: number;
  chatIdleMs: number;
  now: () => number;
}

/** The channel, or null when it is off (no webhook secret, or no bot token to answer with). */
export function createTelegramChannel(deps: TelegramDeps): TelegramChannel | null {
  const { config, log } = deps;
  const webhookSecret = config.telegram.webhookSecret;
  if (!webhookSecret) return null;
  if (!deps.api.token) {
    log.warn("Telegram chat is off: TELEGRAM_WEBHOOK_SECRET is set but no TELEGRAM_BOT_TOKEN");
    return null;
  }
  return {
    db: deps.db,
    kv: deps.kv,
    log,
    jobs: deps.jobs,
    chat: deps.chat,
    payments: deps.payments,
    rateLimiter: deps.rateLimiter,
    client: createTelegramClient({ token: deps.api.token, apiUrl: deps.api.apiUrl }),
    webhookSecret,
    codeSecret: config.appSecret,
    // Read when used: a server on port 0 learns its URL after starting.
    publicUrl: () => config.publicUrl,
    botUsername: config.telegram.botUsername ?? null,
    answerTimeoutMs: deps.answerTimeoutMs ?? 120_000,
    chatIdleMs: deps.chatIdleMs ?? 30 * 60_000,
    now: deps.now ?? Date.now,
  };
}
