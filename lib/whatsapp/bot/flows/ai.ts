/** What Chat and Essay share: one AI answer, formatted for WhatsApp, or a friendly failure. */
import { markdownToWhatsApp } from "../../format.ts";
import { aiFailure } from "../texts.ts";
import type { BotContext, ChatMode } from "../types.ts";

export interface Answer {
  text: string;
  /** The wallet ran dry: the user is offered to buy tokens. */
  insufficient: boolean;
}

export async function answer(ctx: BotContext, mode: ChatMode, question: string): Promise<Answer> {
  const result = await ctx.deps.chat.answerOnce({
    userId: ctx.user.id,
    mode,
    channel: ctx.channel,
    text: question,
    signal: AbortSignal.timeout(ctx.deps.answerTimeoutMs),
  });
  if (result.ok) return { text: markdownToWhatsApp(result.text), insufficient: false };
  ctx.deps.log.info("AI answer refused", {
    userId: ctx.user.id,
    channel: ctx.channel,
    code: result.code,
  });
  return { text: aiFailure(result.code), insufficient: result.code === "insufficient_funds" };
}
