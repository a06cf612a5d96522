/**
 * Reading what Telegram delivers to the webhook: an `Update` (https://core.telegram.org/bots/api#update)
 * validated with zod and reduced to what the channel acts on: a message in a private chat, as
 * text or as "something else" (a photo, a sticker: the bot reads text only). Every other kind of
 * update (edits, channel posts, button callbacks, membership changes, group messages) is
 * acknowledged and ignored.
 *
 * Never throws. Text is made storable (NUL and lone surrogates replaced, lib/whatsapp/storable.ts)
 * and cut to a bound far above Telegram's own 4,096 characters, so whatever a delivery holds can
 * be written as it is.
 */
import { z } from "zod";
import { storableText } from "../whatsapp/storable.ts";
import { type StoredInput, TelegramId } from "./model.ts";

/** Longest text kept of one message (Telegram's own limit is 4,096). */
export const MAX_INPUT_CHARS = 8_000;

const Message = z.object({
  message_id: z.number().int(),
  from: z.object({
    id: TelegramId,
    is_bot: z.boolean().optional(),
    username: z.string().optional(),
  }).optional(),
  chat: z.object({ id: TelegramId, type: z.string() }),
  text: z.string().optional(),
});

const Update = z.object({
  update_id: z.number().int().nonnegative().refine(Number.isSafeInteger),
  message: z.unknown().optional(),
});

/** Message fields that say what a non-text message carries, in the order they are named. */
const KINDS = [
  "photo",
  "video",
  "voice",
  "audio",
  "document",
  "sticker",
  "animation",
  "video_note",
  "location",
  "venue",
  "contact",
  "poll",
  "dice",
] as const;

export type ReadUpdate =
  | {
    kind: "message";
    updateId: number;
    chatId: number;
    /** The sender's @username when it is a well-formed one. */
    username: string | null;
    input: StoredInput;
  }
  | { kind: "ignored"; updateId: number; why: string }
  | { kind: "invalid"; why: string };

/** What an update (already decoded from JSON) asks of the channel. */
export function readUpdate(body: unknown): ReadUpdate {
  const update = Update.safeParse(body);
  if (!update.success) return { kind: "invalid", why: "not an update (update_id)" };
  const updateId = update.data.update_id;
  if (update.data.message === undefined) {
    const other = Object.keys(body as object).find((k) => k !== "update_id") ?? "nothing";
    return { kind: "ignored", updateId, why: `update kind ${storableText(other).slice(0, 40)}` };
  }
  const message = Message.safeParse(update.data.message);
  if (!message.success) {
    const field = message.error.issues[0]?.path.map(String).join(".") || "message";
    return { kind: "invalid", why: `message.${storableText(field).slice(0, 60)}` };
  }
  const m = message.data;
  if (m.chat.type !== "private") return { kind: "ignored", updateId, why: "not a private chat" };
  if (m.from?.is_bot) return { kind: "ignored", updateId, why: "sent by a bot" };
  const username = m.from?.username && /^[A-Za-z0-9_]{4,32}$/.test(m.from.username)
    ? m.from.username
    : null;
  // Cut first: a cut through an emoji leaves half of it, which storableText then replaces.
  const raw = m.text === undefined ? undefined : storableText(m.text.slice(0, MAX_INPUT_CHARS));
  const what = KINDS.find((k) => (update.data.message as Record<string, unknown>)[k] !== undefined);
  const input: StoredInput = raw !== undefined && raw.trim() !== ""
    ? { kind: "text", text: raw }
    : { kind: "other", what: what ?? "message" };
  return { kind: "message", updateId, chatId: m.chat.id, username, input };
}
