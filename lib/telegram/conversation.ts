/**
 * The conversation on Telegram: the WhatsApp bot's flows (lib/whatsapp/bot/flows: Chat with its
 * memory and idle reset, Essay, Balance, the menu and its commands), routed for a channel that
 * offers chat and essays only. Buying goes through the web (a link; WhatsApp's mobile-money
 * prompts are tied to the phone the user writes from), and "Report a problem" is WhatsApp's.
 *
 * Precedence, as on WhatsApp: words understood anywhere ("menu", "help", "stop", "reset",
 * "buy", "balance", also as /commands), then a menu choice (at the menu, or any /command such as
 * /chat or /essay), then the current flow.
 */
import * as balance from "../whatsapp/bot/flows/balance.ts";
import * as chat from "../whatsapp/bot/flows/chat.ts";
import * as essay from "../whatsapp/bot/flows/essay.ts";
import { MAIN_MENU_ROWS, mainMenu, text } from "../whatsapp/bot/flows/menu.ts";
import {
  type BotContext,
  type BotInput,
  commandLeavingChat,
  NEW_SESSION,
  type Session,
  type Step,
} from "../whatsapp/bot/mod.ts";
import { MENU_AGAIN, MENU_BODY, ONLY_TEXT, STOPPED } from "../whatsapp/bot/texts.ts";
import { matchMenuChoice, menuChoices } from "../whatsapp/menu.ts";
import type { OutboundList } from "../whatsapp/types.ts";
import { HELP, TOP_UP } from "./texts.ts";

/** The WhatsApp menu's rows this channel offers. */
const ROWS = MAIN_MENU_ROWS.filter((r) => r.id !== "menu:report");

/** The main menu of this channel. */
export function telegramMenu(body = MENU_BODY): { message: OutboundList } {
  const menu = mainMenu(body);
  return {
    message: { ...menu.message, sections: [{ ...menu.message.sections[0], rows: [...ROWS] }] },
  };
}

function menuChoiceOf(input: BotInput): string | undefined {
  if (input.kind === "choice") return ROWS.find((r) => r.id === input.id)?.id;
  if (input.kind !== "text") return undefined;
  return matchMenuChoice(input.text, menuChoices(telegramMenu().message))?.id;
}

const atMenu = (session: Session, body?: string): Step => ({
  session: { ...session, state: { flow: "menu" } },
  replies: [telegramMenu(body)],
});

const topUp = (ctx: TelegramContext, session: Session): Step => ({
  session: { ...session, state: { flow: "menu" } },
  replies: [text(TOP_UP(ctx.publicUrl))],
});

/** `/chat@HurukuroBot` (how Telegram writes a command meant for one bot) is `/chat`. */
function withoutBotName(input: BotInput): BotInput {
  if (input.kind !== "text") return input;
  const m = /^\s*(\/[A-Za-z0-9_]+)@[A-Za-z0-9_]+(?=\s|$)/.exec(input.text);
  return m ? { kind: "text", text: m[1] + input.text.slice(m[0].length) } : input;
}

export interface TelegramContext extends BotContext {
  /** Where the account page and the top-up are (PUBLIC_URL). */
  publicUrl: string;
}

/**
 * One step of a linked chat. Throws only on infrastructure failures (the database, a bug): the
 * AI's refusals are answered in words by the flows.
 */
export async function telegramStep(
  ctx: TelegramContext,
  stored: Session | null,
  sent: BotInput,
): Promise<Step> {
  const session = stored ?? { ...NEW_SESSION };
  const input = withoutBotName(sent);
  if (input.kind === "text" && /^\/start\s*$/.test(input.text)) return atMenu(session);
  const inChat = session.state.flow === "chat";
  const command = await commandLeavingChat(ctx, session, input);
  if (command) {
    switch (command) {
      case "menu":
        return atMenu(session);
      case "help":
        return { session, replies: [text(HELP)] };
      case "stop":
        return { session: { ...session, state: { flow: "menu" } }, replies: [text(STOPPED)] };
      case "reset":
        return inChat ? await chat.reset(ctx, session) : atMenu(session);
      case "buy":
        return topUp(ctx, session);
      case "balance":
        return await balance.enter(ctx, session);
    }
  }

  const slash = input.kind === "text" && input.text.trimStart().startsWith("/");
  const choice = slash || input.kind === "choice" || session.state.flow === "menu"
    ? menuChoiceOf(input)
    : undefined;
  if (choice) {
    if (inChat && choice !== "menu:chat" && choice !== "menu:help") await chat.leave(ctx);
    switch (choice) {
      case "menu:chat":
        return await chat.enter(ctx, session);
      case "menu:essay":
        return essay.enter(ctx, session);
      case "menu:buy":
        return topUp(ctx, session);
      case "menu:balance":
        return await balance.enter(ctx, session);
      case "menu:help":
        return { session, replies: [text(HELP)] };
    }
  }
  if (input.kind !== "text" && input.kind !== "choice") {
    return { session, replies: [text(ONLY_TEXT)] };
  }
  // An unknown /command is not a question for the AI.
  if (slash) return atMenu(session, MENU_AGAIN);

  switch (session.state.flow) {
    case "chat":
      return await chat.handle(ctx, session, input);
    case "essay":
      return await essay.handle(ctx, session, input);
    default:
      // The menu, or a state of a flow this channel does not offer.
      return atMenu(session, MENU_AGAIN);
  }
}
