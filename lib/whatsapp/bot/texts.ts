/**
 * What the bot says, in one place: short, friendly, no jargon, never a stack trace. WhatsApp
 * formatting (`*bold*`, `_italic_`). AI errors use the same plain words as
 * the web (lib/ai/errors.ts).
 */
import type { AnswerResult } from "./types.ts";
import { formatCount } from "../../format.ts";

export const WELCOME = "*Welcome to Hurukuro!* 👋\n\n" +
  "Ask anything and get answers from AI, right here in WhatsApp. " +
  "You pay with tokens: your new wallet has its welcome tokens, and you can top up with " +
  "EcoCash, OneMoney or InnBucks.\n\n" +
  "_By using Hurukuro you accept our terms: answers are written by AI and can be wrong, " +
  "tokens are used up as you chat and are not refundable, and your messages are stored to " +
  "run the service. Send *stop* at any time._\n\nChoose what to do:";

export const MENU_BODY = "What would you like to do?";
export const MENU_AGAIN = "Sorry, I didn't get that. Choose from the menu:";

export const CHAT_ENTER = "*Chat* 💬\n\nAsk me anything; I remember our conversation. " +
  "Send *reset* to start over, or *menu* to go back.";
export const CHAT_RESET = "Started a new conversation. What would you like to talk about?";
export const CHAT_IDLE_NOTE = "_(It's been a while, so this is a new conversation.)_\n\n";

export const ESSAY_ENTER = "*Essay* 📝\n\nSend one question and I'll write a full answer. " +
  "Each question is answered on its own. Send *menu* to go back.";

export const HELP = "*Help*\n\n" +
  "• *Chat*: a conversation with the AI that remembers what you said.\n" +
  "• *Essay*: one detailed answer to one question.\n" +
  "• *Buy tokens*: top up with EcoCash, OneMoney or InnBucks.\n" +
  "• *Balance*: see your tokens.\n" +
  "• *Report a problem*: tell us what is wrong; we give you a reference to follow it.\n\n" +
  "Type *menu* at any time for the menu, *reset* in Chat to start over, *stop* to stop.";

export const REPORT_UNAVAILABLE = "*Report a problem*\n\nReports cannot be taken here right " +
  "now. Please try again later, or send *menu* to continue.";
export const REPORT_DESCRIBE = "*Report a problem* 📝\n\nDescribe the problem in your own " +
  "words and language: what is wrong, where, and since when. Send *cancel* to stop.";
export const REPORT_DESCRIBE_AGAIN = "Please describe the problem in a text message first " +
  "(you can add photos, voice notes or documents next). Send *cancel* to stop.";
export const REPORT_ATTACH = "Thank you. Send photos, voice notes or documents now (up to 5), " +
  "then tap *Done*. Nothing to add? Tap *Skip*.";
export const REPORT_ATTACH_MORE = (n: number, max: number) =>
  `Got it (${n} of ${max}). Send more, or tap *Done*.`;
export const REPORT_ATTACH_TOO_MANY = "That is the most a report can carry (5). Tap *Done*.";
export const REPORT_LOCATION = "Where is the problem? Share your location (📎 → Location) " +
  "or type the place: town, suburb, street or landmark. Or tap *Skip*.";
export const REPORT_CONFIRM = (description: string, files: number, place: string) =>
  `Please check your report:\n\n_${description}_\n\nAttachments: ${files}\nPlace: ${place}` +
  "\n\nSend it?";
export const REPORT_SENT = (reference: string, trackUrl: string) =>
  `Thank you. Your report is *${reference}*.\n\nKeep this reference: you can follow your ` +
  `report at ${trackUrl} with it and this phone number, and we will message you here when ` +
  "there is news.";
export const REPORT_CANCELLED = "Your report was not sent. Choose what to do next:";

export const STOPPED = "Stopped. Send *menu* whenever you want to continue.";

export const ONLY_TEXT = "Sorry, I can only read text messages here for now. " +
  "Please type your message instead.";
export const MEDIA_RECEIVED = "Thanks, I received your file, but I can't read files here yet. " +
  "Please type your message instead.";

export const SLOW_DOWN =
  "I'm receiving a lot of messages. Please wait a moment before sending another.";
export const DISABLED = "This account is disabled. Contact support to restore it.";
export const SOMETHING_WRONG = "Sorry, something went wrong on our side. " +
  "Please try again in a moment.";

export const BUY_UNAVAILABLE = "Buying tokens is not available right now. Please try later.";
export const BUY_PACKAGES = "*Buy tokens* 💰\n\nChoose a package:";
export const BUY_METHOD = (what: string) => `*${what}*\n\nHow would you like to pay?`;
export const BUY_PHONE = (local: string) =>
  `Pay from this WhatsApp number (${local}) or another number?`;
export const BUY_TYPE_PHONE =
  "Type the mobile money number to pay from, e.g. 0771234567. Send *menu* to cancel.";
export const BUY_BAD_PHONE = (why: string) =>
  `${why}\n\nType the number again (e.g. 0771234567), or send *menu* to cancel.`;
export const BUY_WAITING = "Your payment is still being confirmed. I'll message you here as " +
  "soon as it is. Send *menu* to do something else meanwhile.";

/** Token counts as every page writes them (lib/format.ts). */
export const formatTokens = (n: number) => formatCount(n);

/** Seed 002's wording for AI failures, with what to do next on WhatsApp. */
export function aiFailure(code: Extract<AnswerResult, { ok: false }>["code"]): string {
  switch (code) {
    case "insufficient_funds":
      return "You've run out of tokens. Send *buy* to top up; I'll bring you back here " +
        "once the payment is confirmed.";
    case "rate_limited":
      return SLOW_DOWN;
    case "not_configured":
      return "The service is temporarily unavailable. Please contact support.";
    case "unavailable":
      return "I'm having trouble connecting right now. Please try again in a moment.";
    case "timeout":
      return "This is taking longer than expected. Please send your question again.";
    case "context_too_long":
      return "This conversation has grown too long for me. Send *reset* to start a new one.";
    case "cap_reached":
      return "You've reached today's token limit for your plan. It resets tomorrow.";
    case "account_disabled":
      return "This account is disabled. Contact support to restore it.";
  }
}
