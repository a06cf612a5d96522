/**
 * `telegram.send`: sends a Telegram chat's queued messages in order, with retries
 * (lib/telegram/outbox.ts). Its reconcile sweep re-queues chats whose messages wait too long.
 */
import { keyedWorkHandler } from "../lib/jobs/types.ts";
import { telegramSendJob } from "../lib/telegram/jobs.ts";
import type { TelegramChannel } from "../lib/telegram/mod.ts";
import { overdueSends, sendChat } from "../lib/telegram/outbox.ts";

export const telegramSendHandler = (telegram: TelegramChannel | null) =>
  keyedWorkHandler(telegramSendJob, "chatId", telegram, sendChat, overdueSends);
