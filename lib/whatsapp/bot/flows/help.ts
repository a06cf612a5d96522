/** Help: what each choice does and the words understood anywhere. Keeps the current state. */
import { HELP } from "../texts.ts";
import type { BotContext, Session, Step } from "../types.ts";
import { text } from "./menu.ts";

export function enter(_ctx: BotContext, session: Session): Step {
  return { session, replies: [text(HELP)] };
}
