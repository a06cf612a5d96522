/**
 * A conversation's title from its first message: one line, cut with "…" past 60 characters.
 * Pure, so the chat island names a new conversation exactly as the server stores it.
 */
export const TITLE_MAX_CHARS = 60;

export function titleOf(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > TITLE_MAX_CHARS ? line.slice(0, TITLE_MAX_CHARS - 3) + "…" : line;
}

/** The most characters a message may have (the server refuses more; the page counts them). */
export const MAX_MESSAGE_CHARS = 16_000;
