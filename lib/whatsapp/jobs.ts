/**
 * The WhatsApp channel's job types (handlers: jobs/whatsapp_reply.ts, jobs/whatsapp_send.ts).
 *
 * Both work per phone, not per message: a job means "this phone may have work", and its handler
 * takes the phone's lease and works through everything pending in order. So many deliveries for
 * one phone cost one pass, messages are answered and sent in the order they came, and a lost or
 * duplicated job changes nothing (the work is recorded in Postgres, the reconciler re-queues).
 */
import { z } from "zod";
import { conversationJobs } from "../jobs/types.ts";
import { PHONE_NUMBER } from "./types.ts";

/** `whatsapp.reply` answers the phone's pending inbound messages (the conversation machine);
 * `whatsapp.send` sends its queued outbound messages, in order, with retries and pacing. */
export const { reply: whatsappReplyJob, send: whatsappSendJob } = conversationJobs(
  "whatsapp",
  z.object({ phone: z.string().regex(PHONE_NUMBER) }),
);
