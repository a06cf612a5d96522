/**
 * The Telegram channel's job types (handlers: jobs/telegram_reply.ts, jobs/telegram_send.ts).
 *
 * As WhatsApp's, both work per chat, not per update: a job means "this chat may have work", and
 * its handler works through everything open for the chat in order. The work is recorded in
 * Postgres (`telegram_updates`, `telegram_outbound`), so a lost or duplicated job changes
 * nothing: the reconciler queues chats whose work waits too long.
 */
import { z } from "zod";
import { conversationJobs } from "../jobs/types.ts";
import { TelegramId } from "./model.ts";

/** `telegram.reply` answers the chat's pending updates; `telegram.send` sends its queued
 * messages, in order, with retries. */
export const { reply: telegramReplyJob, send: telegramSendJob } = conversationJobs(
  "telegram",
  z.object({ chatId: TelegramId }),
);
