/**
 * `telegram.send`: sends a Telegram chat's queued messages in order, with retries
 * (lib/telegram/outbox.ts). Its reconcile sweep re-queues chats whose messages wait too long.
 */
import { defineHandler } from "../lib/jobs/types.ts";
import { telegramSendJob } from "../lib/telegram/jobs.ts";
import type { TelegramChannel } from "../lib/telegram/mod.ts";
import { overdueSends, sendChat } from "../lib/telegram/outbox.ts";

export const telegramSendHandler = (telegram: TelegramChannel | null) =>
  defineHandler(telegramSendJob, async ({ chatId }) => {
    if (telegram) await sendChat(telegram, chatId);
  }, {
    async reconcile(ctx) {
      if (!telegram) return [];
      const minute = Math.floor(Date.now() / 60_000);
      return (await overdueSends(ctx.db)).map((chatId) => ({
        payload: { chatId },
        dedupeKey: `${chatId}:reconciled:${minute}`,
      }));
    },
  });
