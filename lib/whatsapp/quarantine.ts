/**
 * Inbound messages the webhook refuses to store for an answer although their delivery was
 * signed: a sender that is not a phone number (20 digits, 5,000 digits, SQL in the `from` field)
 * cannot be answered, and a row with one would stop every later reply job and reconciler run
 * that validates phones. Such a message is answered 200 with its delivery (so the provider stops
 * retrying), kept only in the webhook log (masked), logged and counted.
 */
import { type InboundMessage, MAX_MESSAGE_ID_CHARS, PHONE_NUMBER } from "./types.ts";

export type QuarantineReason = "sender" | "id";

/** What each reason means, for the webhook log and the application log. */
export const QUARANTINE_REASONS: Record<QuarantineReason, string> = {
  sender: "the sender is not a phone number",
  id: "the message id is empty or too long",
};

/** Why `message` must not be stored for an answer, or null when it may. */
export function quarantineReason(message: InboundMessage): QuarantineReason | null {
  if (!PHONE_NUMBER.test(message.from)) return "sender";
  if (!message.id || message.id.length > MAX_MESSAGE_ID_CHARS) return "id";
  return null;
}

/**
 * A refused sender as logged: a few leading characters and the length. Log masking recognises
 * phone numbers of plausible lengths only, and these are not.
 */
export function maskedSender(from: string): string {
  return `${from.slice(0, 4)}…(${from.length} characters)`;
}

/** The webhook log's note for the quarantined messages of one delivery, or null for none. */
export function quarantineNote(reasons: QuarantineReason[]): string | null {
  if (reasons.length === 0) return null;
  const why = [...new Set(reasons)].map((r) => QUARANTINE_REASONS[r]).join("; ");
  return reasons.length === 1
    ? `message quarantined: ${why}`
    : `${reasons.length} messages quarantined: ${why}`;
}
