/**
 * `whatsapp.send`: sends a phone's queued WhatsApp messages in order, with retries and pacing
 * (lib/whatsapp/outbox). Its reconcile sweep re-queues phones whose messages wait too long.
 */
import { keyedWorkHandler } from "../lib/jobs/types.ts";
import { type ChannelDeps, sendToPhone } from "../lib/whatsapp/channel.ts";
import { overdueSends } from "../lib/whatsapp/sweeps.ts";
import { whatsappSendJob } from "../lib/whatsapp/jobs.ts";

export const whatsappSendHandler = (channel: ChannelDeps | null) =>
  keyedWorkHandler(whatsappSendJob, "phone", channel, sendToPhone, overdueSends);
