/**
 * `telegram.reply`: answers a Telegram chat's updates in order (lib/telegram/reply.ts). Its
 * reconcile sweep re-queues chats whose updates were recorded but never answered (the job lost
 * with a KV file, or a worker that died mid-answer).
 */
import { keyedWorkHandler } from "../lib/jobs/types.ts";
import { telegramReplyJob } from "../lib/telegram/jobs.ts";
import type { TelegramChannel } from "../lib/telegram/mod.ts";
import { answerChat, overdueReplies } from "../lib/telegram/reply.ts";

export const telegramReplyHandler = (telegram: TelegramChannel | null) =>
  keyedWorkHandler(telegramReplyJob, "chatId", telegram, answerChat, overdueReplies);
