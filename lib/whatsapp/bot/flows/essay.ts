/** Essay: each question answered on its own, without the memory of earlier ones. */
import { ESSAY_ENTER, ONLY_TEXT } from "../texts.ts";
import type { BotContext, BotInput, Session, Step } from "../types.ts";
import { answer } from "./ai.ts";
import { text } from "./menu.ts";

export function enter(_ctx: BotContext, session: Session): Step {
  return {
    session: { ...session, state: { flow: "essay" }, activity: "essay" },
    replies: [text(ESSAY_ENTER)],
  };
}

export async function handle(ctx: BotContext, session: Session, input: BotInput): Promise<Step> {
  if (input.kind !== "text" && input.kind !== "choice") {
    return { session, replies: [text(ONLY_TEXT)] };
  }
  // No memory: every essay starts a fresh conversation.
  await ctx.deps.chat.resetConversation(ctx.user.id, ctx.channel);
  const reply = await answer(ctx, "essay", input.kind === "text" ? input.text : input.title);
  return {
    session: { ...session, state: { flow: "essay" }, activity: "essay" },
    replies: [
      text(reply.text),
    ],
  };
}
