/**
 * Menus as plain text, and understanding a typed answer to a menu.
 *
 * Twilio cannot send reply buttons or lists without pre-approved content templates, so its users
 * get "1. Chat\n2. Essay…" and answer with a number. Meta users may type too ("2", "essay")
 * instead of tapping, so the conversation machine matches free text against the same choices
 * on both providers with {@link matchMenuChoice}.
 */
import type { OutboundButtons, OutboundList } from "./types.ts";

export interface MenuChoice {
  /** 1-based, in the order shown (across list sections). */
  number: number;
  /** The button or row id, as a tap would report it. */
  id: string;
  title: string;
  description?: string;
}

export type Menu = OutboundButtons | OutboundList;

/** The choices of a buttons or list message, numbered in display order. */
export function menuChoices(menu: Menu): MenuChoice[] {
  const items = menu.type === "buttons"
    ? menu.buttons.map((b) => ({ id: b.id, title: b.title }))
    : menu.sections.flatMap((s) => s.rows);
  return items.map((item, i) => ({ number: i + 1, ...item }));
}

export const DEFAULT_MENU_HINT = "Reply with the number of your choice.";

/**
 * The menu as one text message:
 *
 * ```text
 * *Header*
 *
 * Body
 *
 * *Section*
 * 1. Title — description
 * 2. Title
 *
 * _Footer_
 * Reply with the number of your choice.
 * ```
 */
export function renderNumberedMenu(menu: Menu, hint = DEFAULT_MENU_HINT): string {
  const blocks: string[] = [];
  if (menu.header?.trim()) blocks.push(`*${menu.header.trim()}*`);
  if (menu.body.trim()) blocks.push(menu.body.trim());
  const line = (c: MenuChoice) =>
    `${c.number}. ${c.title}${c.description ? ` — ${c.description}` : ""}`;
  const choices = menuChoices(menu);
  if (menu.type === "buttons") {
    blocks.push(choices.map(line).join("\n"));
  } else {
    let n = 0;
    for (const section of menu.sections) {
      const lines = section.rows.map(() => line(choices[n++]));
      if (section.title?.trim() && menu.sections.length > 1) {
        lines.unshift(`*${section.title.trim()}*`);
      }
      blocks.push(lines.join("\n"));
    }
  }
  const tail = [menu.footer?.trim() ? `_${menu.footer.trim()}_` : "", hint.trim()]
    .filter(Boolean).join("\n");
  if (tail) blocks.push(tail);
  return blocks.join("\n\n");
}

const normalise = (s: string) =>
  s.normalize("NFKC").toLowerCase().replace(/[^\p{L}\p{N}]+/gu, " ").trim();

/**
 * The choice a typed answer means: its number ("2", "2.", "#2", " 2) "), its id, or its title
 * (case, punctuation and emoji ignored; "buy tokens" matches "💰 Buy tokens"). Undefined if
 * nothing matches or the answer is ambiguous.
 */
export function matchMenuChoice(text: string, choices: MenuChoice[]): MenuChoice | undefined {
  const number = /^\s*#?\s*(\d{1,3})\s*[.)]?\s*$/.exec(text);
  if (number) return choices.find((c) => c.number === Number(number[1]));
  const typed = normalise(text);
  if (!typed) return undefined;
  const byId = choices.filter((c) => c.id === text.trim());
  if (byId.length === 1) return byId[0];
  const byTitle = choices.filter((c) => normalise(c.title) === typed);
  return byTitle.length === 1 ? byTitle[0] : undefined;
}
