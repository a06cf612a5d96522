/** First contact: the welcome and the short terms, with the menu, in one message. */
import { WELCOME } from "../texts.ts";
import { NEW_SESSION, type Step } from "../types.ts";
import { mainMenu } from "./menu.ts";

export function enter(): Step {
  return { session: { ...NEW_SESSION }, replies: [mainMenu(WELCOME)] };
}
