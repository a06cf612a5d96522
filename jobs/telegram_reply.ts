/**
 * `telegram.reply`: answers a Telegram chat's updates in order (lib/telegram/reply.ts). Its
 * reconcile sweep re-queues chats whose updates were recorded but never answered (the job lost
 * with a KV file, or a worker that died mid-answer).
 */
import { defineHandler } from "../lib/jobs/types.ts";
import { telegramReplyJob } from "../lib/telegram/jobs.ts";
import type { TelegramChannel } from "../lib/telegram/mod.ts";
import { answerChat, overdueReplies } from "../lib/telegram/reply.ts";

export const telegramReplyHandler = (telegram: TelegramChannel | null) =>
  defineHandler(telegramReplyJob, async ({ chatId }) => {
    if (telegram) await answerChat(telegram, chatId);
  }, {
    async reconcile(ctx) {
      if (!telegram) return [];
      const minute = Math.floor(Date.now() / 60_000);
      return (await overdueReplies(ctx.db)).map((chatId) => ({
        payload: { chatId },
        dedupeKey: `${chatId}:reconciled:${minute}`,
      }));
    },
  });
