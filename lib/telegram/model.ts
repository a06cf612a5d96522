/**
 * The Telegram channel's vocabulary and rows: an update's life (`pending` → `working` →
 * `answered`, `skipped` or `failed`), an outbound message's (`queued` → `sending` → `sent` or
 * `failed`), and what a user sent, normalised. Each list is written once here; the CHECKs of
 * migrations/0014_telegram.sql are tested equal to them.
 */
import { z } from "zod";

export const UPDATE_STATUSES = ["pending", "working", "answered", "skipped", "failed"] as const;
export type UpdateStatus = typeof UPDATE_STATUSES[number];

export const OUTBOUND_STATUSES = ["queued", "sending", "sent", "failed"] as const;
export type OutboundStatus = typeof OUTBOUND_STATUSES[number];

/** Telegram's ids are integers of up to 52 bits: safe in a JavaScript number. */
export const TelegramId = z.number().int().refine(Number.isSafeInteger);

/** What a user sent: text, or something else (a photo, a sticker) named by its kind. */
export const StoredInput = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("text"), text: z.string() }),
  z.object({ kind: z.literal("other"), what: z.string() }),
]);
export type StoredInput = z.infer<typeof StoredInput>;

/** sendMessage's parameters but `chat_id`, as a queued message keeps them. */
export const OutboundMessage = z.object({
  text: z.string(),
  parse_mode: z.literal("HTML").optional(),
  reply_markup: z.record(z.string(), z.unknown()).optional(),
});
export type OutboundMessage = z.infer<typeof OutboundMessage>;

/** One row of `telegram_updates`. */
export interface UpdateRow {
  updateId: number;
  chatId: number;
  /** The sender's @username, if any. */
  username: string | null;
  input: StoredInput;
  status: UpdateStatus;
  attempts: number;
  receivedAt: Date;
}

/** A `telegram_updates` row (the columns an {@link UpdateRow} is read from). */
export interface TelegramUpdatesRow {
  /** A bigint: postgres.js reads it as a string. */
  update_id: string;
  /** A bigint: postgres.js reads it as a string. */
  chat_id: string;
  username: string | null;
  /** Parsed before use: another version may have written another shape. */
  input: unknown;
  status: UpdateStatus;
  attempts: number;
  received_at: Date;
}

export function toUpdate(row: TelegramUpdatesRow): UpdateRow {
  const input = StoredInput.safeParse(row.input);
  return {
    updateId: Number(row.update_id),
    chatId: Number(row.chat_id),
    username: row.username ?? null,
    // A row another version wrote in a shape this one does not read is answered as "other".
    input: input.success ? input.data : { kind: "other", what: "unknown" },
    status: row.status,
    attempts: Number(row.attempts),
    receivedAt: row.received_at,
  };
}

/** One row of `telegram_outbound`. */
export interface OutboundRow {
  id: string;
  chatId: number;
  updateId: number;
  message: OutboundMessage;
  attempts: number;
}

/** A `telegram_outbound` row (the columns an {@link OutboundRow} is read from). */
export interface TelegramOutboundRow {
  /** A bigserial: postgres.js reads it as a string. */
  id: string;
  /** A bigint: postgres.js reads it as a string. */
  chat_id: string;
  /** A bigint: postgres.js reads it as a string. */
  update_id: string;
  /** Parsed before use. */
  message: unknown;
  attempts: number;
}

export function toOutbound(row: TelegramOutboundRow): OutboundRow {
  return {
    id: String(row.id),
    chatId: Number(row.chat_id),
    updateId: Number(row.update_id),
    message: OutboundMessage.parse(row.message),
    attempts: Number(row.attempts),
  };
}

/** A chat id as logs show it (it is the Telegram user's id): enough to tell two apart. */
export function maskChatId(id: number): string {
  const s = String(id);
  return s.length <= 4 ? "***" : `${s.slice(0, 2)}***${s.slice(-2)}`;
}
