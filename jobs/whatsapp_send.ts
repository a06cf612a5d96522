/**
 * `whatsapp.send`: sends a phone's queued WhatsApp messages in order, with retries and pacing
 * (lib/whatsapp/outbox). Its reconcile sweep re-queues phones whose messages wait too long.
 */
import { defineHandler } from "../lib/jobs/types.ts";
import { type ChannelDeps, overdueSends, sendToPhone } from "../lib/whatsapp/channel.ts";
import { whatsappSendJob } from "../lib/whatsapp/jobs.ts";

export const whatsappSendHandler = (channel: ChannelDeps | null) =>
  defineHandler(whatsappSendJob, async ({ phone }) => {
    if (channel) await sendToPhone(channel, phone);
  }, {
    async reconcile(ctx) {
      if (!channel) return [];
      const minute = Math.floor(Date.now() / 60_000);
      return (await overdueSends(ctx.db)).map((phone) => ({
        payload: { phone },
        dedupeKey: `${phone}:reconciled:${minute}`,
      }));
    },
  });
