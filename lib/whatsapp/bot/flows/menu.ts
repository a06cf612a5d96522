/**
 * The main menu: a list message (Twilio users get it as numbered text). Typed answers are
 * matched by number or title ("2", "essay", "Buy tokens").
 */
import { matchMenuChoice, menuChoices } from "../../menu.ts";
import type { OutboundList, OutboundText } from "../../types.ts";
import { MENU_AGAIN, MENU_BODY } from "../texts.ts";
import type { BotContext, BotInput, Session, Step } from "../types.ts";

export const MAIN_MENU_ROWS = [
  {
    id: "menu:chat",
    title: "Chat",
    description: "Talk with the AI; it remembers the conversation",
  },
  { id: "menu:essay", title: "Essay", description: "One detailed answer to one question" },
  { id: "menu:buy", title: "Buy tokens", description: "Top up with EcoCash, OneMoney or InnBucks" },
  { id: "menu:balance", title: "Balance", description: "See how many tokens you have" },
  { id: "menu:help", title: "Help", description: "How this works" },
  { id: "menu:report", title: "Report a problem", description: "Tell us what went wrong" },
] as const;

export type MenuId = (typeof MAIN_MENU_ROWS)[number]["id"];

export function text(body: string): { message: OutboundText } {
  return { message: { type: "text", text: body } };
}

export function mainMenu(body = MENU_BODY): { message: OutboundList } {
  return {
    message: {
      type: "list",
      body,
      button: "Menu",
      sections: [{ title: "Hurukuro", rows: MAIN_MENU_ROWS.map((r) => ({ ...r })) }],
    },
  };
}

/** The menu choice a typed or tapped answer means, if any. */
export function menuChoiceOf(input: BotInput): MenuId | undefined {
  if (input.kind === "choice" && input.id.startsWith("menu:")) {
    return MAIN_MENU_ROWS.find((r) => r.id === input.id)?.id;
  }
  if (input.kind !== "text") return undefined;
  return matchMenuChoice(input.text, menuChoices(mainMenu().message))?.id as MenuId | undefined;
}

/** Back at the menu. */
export function enter(_ctx: BotContext, session: Session, body?: string): Step {
  return { session: { ...session, state: { flow: "menu" } }, replies: [mainMenu(body)] };
}

/** Something the menu did not understand (the dispatcher handles the choices). */
export function handle(ctx: BotContext, session: Session, _input: BotInput): Step {
  return enter(ctx, session, MENU_AGAIN);
}
