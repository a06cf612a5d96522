/**
 * `whatsapp.reply`: answers a phone's pending WhatsApp messages in order (lib/whatsapp/channel).
 * Its reconcile sweep re-queues phones whose messages were stored but never answered (the job
 * lost with a KV file, or a worker that died mid-answer).
 */
import { defineHandler } from "../lib/jobs/types.ts";
import { answerPhone, type ChannelDeps, overdueReplies } from "../lib/whatsapp/channel.ts";
import { whatsappReplyJob } from "../lib/whatsapp/jobs.ts";

export const whatsappReplyHandler = (channel: ChannelDeps | null) =>
  defineHandler(whatsappReplyJob, async ({ phone }) => {
    if (channel) await answerPhone(channel, phone);
  }, {
    async reconcile(ctx) {
      if (!channel) return [];
      const minute = Math.floor(Date.now() / 60_000);
      return (await overdueReplies(ctx.db)).map((phone) => ({
        payload: { phone },
        dedupeKey: `${phone}:reconciled:${minute}`,
      }));
    },
  });
