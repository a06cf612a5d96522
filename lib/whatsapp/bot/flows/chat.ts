/**
 * Chat: a conversation with memory. The memory ends with "menu", "reset" or after the idle TTL
 * (the next message then starts a new conversation and says so).
 */
import { CHAT_ENTER, CHAT_IDLE_NOTE, CHAT_RESET, ONLY_TEXT } from "../texts.ts";
import type { BotContext, BotInput, Session, Step } from "../types.ts";
import { answer } from "./ai.ts";
import { text } from "./menu.ts";

export async function enter(ctx: BotContext, session: Session): Promise<Step> {
  await ctx.deps.chat.resetConversation(ctx.user.id, ctx.channel);
  return {
    session: { ...session, state: { flow: "chat" }, activity: "chat", chatAt: ctx.deps.now() },
    replies: [text(CHAT_ENTER)],
  };
}

export async function reset(ctx: BotContext, session: Session): Promise<Step> {
  await ctx.deps.chat.resetConversation(ctx.user.id, ctx.channel);
  return {
    session: { ...session, state: { flow: "chat" }, chatAt: ctx.deps.now() },
    replies: [text(CHAT_RESET)],
  };
}

/** Leaving Chat (menu, stop, buying…) forgets the conversation. */
export async function leave(ctx: BotContext): Promise<void> {
  await ctx.deps.chat.resetConversation(ctx.user.id, ctx.channel);
}

export async function handle(ctx: BotContext, session: Session, input: BotInput): Promise<Step> {
  if (input.kind !== "text" && input.kind !== "choice") {
    return { session, replies: [text(ONLY_TEXT)] };
  }
  const question = input.kind === "text" ? input.text : input.title;
  const now = ctx.deps.now();
  let note = "";
  if (session.chatAt !== null && now - session.chatAt > ctx.deps.chatIdleMs) {
    await ctx.deps.chat.resetConversation(ctx.user.id, ctx.channel);
    note = CHAT_IDLE_NOTE;
  }
  const reply = await answer(ctx, "chat", question);
  return {
    session: { ...session, state: { flow: "chat" }, activity: "chat", chatAt: now },
    replies: [text(note + reply.text)],
  };
}
