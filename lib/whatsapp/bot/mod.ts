/**
 * The conversation machine (a small explicit, typed state machine): given the session of a
 * phone and one input, the next session and the messages to send. One module per flow in
 * `flows/`; this file only routes.
 *
 * Order of precedence for an input:
 * 1. first contact → welcome (with the menu);
 * 2. events (a settled payment) → the buy flow's notice;
 * 3. words understood anywhere: "menu", "help", "stop", "reset" (Chat), "buy", "balance";
 * 4. a tapped menu or package button from any earlier message;
 * 5. at the menu, a menu number or title;
 * 6. otherwise the current flow's own handler.
 */
import * as balance from "./flows/balance.ts";
import * as buy from "./flows/buy.ts";
import * as chat from "./flows/chat.ts";
import * as essay from "./flows/essay.ts";
import * as help from "./flows/help.ts";
import * as menu from "./flows/menu.ts";
import * as report from "./flows/report.ts";
import * as welcome from "./flows/welcome.ts";
import { MEDIA_RECEIVED, ONLY_TEXT, STOPPED } from "./texts.ts";
import type { BotContext, BotInput, Session, Step } from "./types.ts";

export * from "./types.ts";

const normalise = (s: string) =>
  s.normalize("NFKC").toLowerCase().replace(/[^\p{L}\p{N}]+/gu, " ").trim();

type Command = "menu" | "help" | "stop" | "reset" | "buy" | "balance";

/** What each command is called; a Map, so a word such as "constructor" is no command. */
const COMMANDS = new Map<string, Command>([
  ["menu", "menu"],
  ["main menu", "menu"],
  ["home", "menu"],
  ["help", "help"],
  ["stop", "stop"],
  ["cancel", "stop"],
  ["reset", "reset"],
  ["new chat", "reset"],
  ["buy", "buy"],
  ["buy tokens", "buy"],
  ["top up", "buy"],
  ["balance", "balance"],
]);

/** A flow entered from wherever the user is (by a command or a menu row). */
type Entered = { enter(ctx: BotContext, session: Session): Step | Promise<Step> };

/** The flow each row of the main menu enters. */
const MENU_FLOWS: Record<menu.MenuId, Entered> = {
  "menu:chat": chat,
  "menu:essay": essay,
  "menu:buy": buy,
  "menu:balance": balance,
  "menu:help": help,
  "menu:report": report,
};

/** The command a message means wherever the user is ("menu", "help"...), if any. */
export function commandOf(input: BotInput): Command | undefined {
  if (input.kind === "choice" && input.id === "menu:main") return "menu";
  if (input.kind !== "text") return undefined;
  return COMMANDS.get(normalise(input.text));
}

/**
 * The command a message means, if any, once the AI chat is left when the command takes the user
 * out of it (all but "reset", which starts a new chat, and "help", which comes back to it).
 */
export async function commandLeavingChat(
  ctx: BotContext,
  session: Session,
  input: BotInput,
): Promise<Command | undefined> {
  const command = commandOf(input);
  const leaves = command !== undefined && command !== "reset" && command !== "help";
  if (leaves && session.state.flow === "chat") await chat.leave(ctx);
  return command;
}

/**
 * One step. `session` is null on first contact. Throws only on infrastructure failures (the
 * database, a bug): refusals of the AI or of Paynow are answered in words.
 */
export async function step(
  ctx: BotContext,
  session: Session | null,
  input: BotInput,
): Promise<Step> {
  if (input.kind === "event") {
    return buy.settled(ctx, session ?? welcome.enter().session, input.event);
  }
  if (!session) return welcome.enter();

  const inChat = session.state.flow === "chat";
  const command = await commandLeavingChat(ctx, session, input);
  if (command === "stop") {
    return { session: { ...session, state: { flow: "menu" } }, replies: [menu.text(STOPPED)] };
  }
  if (command === "reset") return inChat ? chat.reset(ctx, session) : menu.enter(ctx, session);
  if (command) return { menu, help, buy, balance }[command].enter(ctx, session);

  if (input.kind === "choice" && input.id.startsWith("buy:pkg:")) {
    if (inChat) await chat.leave(ctx);
    return buy.choosePackage(ctx, session, input.id.slice("buy:pkg:".length));
  }
  const choice = input.kind === "choice" || session.state.flow === "menu"
    ? menu.menuChoiceOf(input)
    : undefined;
  if (choice) {
    if (inChat && choice !== "menu:chat" && choice !== "menu:help") await chat.leave(ctx);
    return MENU_FLOWS[choice].enter(ctx, session);
  }

  const reporting = session.state.flow === "report";
  if (input.kind === "media" && session.state.flow !== "buy" && !reporting) {
    return { session, replies: [menu.text(input.stored ? MEDIA_RECEIVED : ONLY_TEXT)] };
  }
  if (input.kind === "other" || (input.kind === "location" && !reporting)) {
    return { session, replies: [menu.text(ONLY_TEXT)] };
  }

  switch (session.state.flow) {
    case "menu":
      return menu.handle(ctx, session, input);
    case "chat":
      return chat.handle(ctx, session, input);
    case "essay":
      return essay.handle(ctx, session, input);
    case "buy":
      return buy.handle(ctx, session, input);
    case "report":
      return report.handle(ctx, session, input);
  }
}
