/**
 * What the bot says on Telegram that WhatsApp's texts (lib/whatsapp/bot/texts.ts) do not: how
 * to link an account, and the help and top-up lines of a channel without "Report a problem" or
 * mobile-money prompts. Same voice, same marks (`*bold*`), made HTML on the way out (format.ts).
 */

export const HOW_TO_LINK = (publicUrl: string) =>
  "*Welcome to Hurukuro!* 👋\n\n" +
  "To chat here, link this Telegram account to your Hurukuro account:\n\n" +
  `1. Sign in at ${publicUrl}/account (no account yet? ${publicUrl}/signup)\n` +
  "2. Under *Telegram*, choose *Get a link code*\n" +
  "3. Send */link* and the code here, e.g. /link K7QXM2PA\n\n" +
  "Your tokens and your assistant are then the same here as on the web.";

export const LINK_REFUSED = (publicUrl: string) =>
  "That code is not valid, or it has expired or been used. " +
  `Get a new one at ${publicUrl}/account and send */link* with it.`;

export const LINK_TOO_MANY =
  "Too many codes tried. Wait ten minutes, then send a new code from your account page.";

export const LINKED = (who: string | null) =>
  `*Linked!* This Telegram account now uses your Hurukuro account${who ? ` (${who})` : ""}: ` +
  "the same tokens and the same assistant. Send */unlink* to undo it.";

export const UNLINKED = "This Telegram account is no longer linked. " +
  "Send */link* with a new code from your account page to link it again.";

export const TOP_UP = (publicUrl: string) =>
  `Tokens are bought on the web: ${publicUrl}/account#top-up (EcoCash, OneMoney, InnBucks ` +
  "or card). It is the same wallet you use here.";

export const HELP = "*Help*\n\n" +
  "• *Chat*: a conversation with the AI that remembers what you said.\n" +
  "• *Essay*: one detailed answer to one question.\n" +
  "• *Balance*: see your tokens.\n" +
  "• *Buy tokens*: where to top up.\n\n" +
  "Commands: /menu, /chat, /essay, /reset (a new chat), /balance, /buy, /help, /stop, /unlink.";
