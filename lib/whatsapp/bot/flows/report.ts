/** Report a problem: reserved for the grievance feature; says so for now. */
import { REPORT_SOON } from "../texts.ts";
import type { BotContext, Session, Step } from "../types.ts";
import { text } from "./menu.ts";

export function enter(_ctx: BotContext, session: Session): Step {
  return { session: { ...session, state: { flow: "menu" } }, replies: [text(REPORT_SOON)] };
}
