/**
 * The Telegram channel's job types (handlers: jobs/telegram_reply.ts, jobs/telegram_send.ts).
 *
 * As WhatsApp's, both work per chat, not per update: a job means "this chat may have work", and
 * its handler works through everything open for the chat in order. The work is recorded in
 * Postgres (`telegram_updates`, `telegram_outbound`), so a lost or duplicated job changes
 * nothing: the reconciler queues chats whose work waits too long.
 */
import { z } from "zod";
import { CONVERSATION_RETRY, jobType } from "../jobs/types.ts";
import { TelegramId } from "./model.ts";

/** Answer the chat's pending updates (the conversation). */
export const telegramReplyJob = jobType({
  name: "telegram.reply",
  schema: z.object({ chatId: TelegramId }),
  lane: "replies",
  retry: CONVERSATION_RETRY,
});

/** Send the chat's queued messages, in order, with retries. */
export const telegramSendJob = jobType({
  name: "telegram.send",
  schema: z.object({ chatId: TelegramId }),
  lane: "sends",
  retry: CONVERSATION_RETRY,
});
