/**
 * `whatsapp.reply`: answers a phone's pending WhatsApp messages in order (lib/whatsapp/channel).
 * Its reconcile sweep re-queues phones whose messages were stored but never answered (the job
 * lost with a KV file, or a worker that died mid-answer).
 */
import { keyedWorkHandler } from "../lib/jobs/types.ts";
import { answerPhone, type ChannelDeps } from "../lib/whatsapp/channel.ts";
import { overdueReplies } from "../lib/whatsapp/sweeps.ts";
import { whatsappReplyJob } from "../lib/whatsapp/jobs.ts";

export const whatsappReplyHandler = (channel: ChannelDeps | null) =>
  keyedWorkHandler(whatsappReplyJob, "phone", channel, answerPhone, overdueReplies);
