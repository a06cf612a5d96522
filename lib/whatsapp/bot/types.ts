/**
 * The conversation machine's vocabulary: its states (persisted per phone, validated with zod
 * when read back), its inputs (a user's message, already normalised, or an event such as a
 * settled payment), and what a step returns (the next state and the messages to send).
 *
 * Every flow (one module each in `flows/`) is a pair of functions over these types:
 * `enter(ctx, session)` when the user chooses it and `handle(ctx, session, input)` for what they
 * send while in it. Nothing here talks HTTP or knows which provider carries the messages.
 */
import { z } from "zod";
import type { Database } from "../../db/mod.ts";
import type { Logger } from "../../observability/log.ts";
import type { Channel } from "../../channels.ts";
import type { AnswerOnceInput, AnswerOnceResult } from "../../chat/mod.ts";
import type { Mode } from "../../chat/conversations.ts";
import type { PaymentSettled } from "../../payments/events.ts";
import type { Payments } from "../../payments/model.ts";
import { EXPRESS_METHODS } from "../../payments/vocabulary.ts";
import type { User } from "../../accounts/users.ts";
import type { Outgoing } from "../outbox.ts";

/** What the user comes back to after buying tokens. */
export const Activity = z.enum(["menu", "chat", "essay"]);
export type Activity = z.infer<typeof Activity>;

const Uuid = z.string().regex(/^[0-9a-f-]{36}$/i);

/**
 * A report being written (the "Report a problem" flow). Its texts are sealed by the grievance
 * port before they are kept here: the session row holds no complainant's words in clear.
 */
export const ReportDraft = z.object({
  /** The description, sealed. */
  description: z.string(),
  /** Inbound ids of the attachments accepted so far. */
  media: z.array(Uuid).max(5),
  /** The place (typed, or a shared location as JSON), sealed; null when skipped. */
  location: z.string().nullable(),
  /** Inbound ids of the messages that carried the report's words (redacted once it is sent). */
  messages: z.array(Uuid).max(20),
});
export type ReportDraft = z.infer<typeof ReportDraft>;

export const BotState = z.union([
  z.object({ flow: z.literal("menu") }),
  z.object({ flow: z.literal("chat") }),
  z.object({ flow: z.literal("essay") }),
  z.object({ flow: z.literal("buy"), step: z.literal("package") }),
  z.object({ flow: z.literal("buy"), step: z.literal("method"), packageId: Uuid }),
  z.object({
    flow: z.literal("buy"),
    step: z.literal("phone"),
    packageId: Uuid,
    method: z.enum(EXPRESS_METHODS),
  }),
  z.object({
    flow: z.literal("buy"),
    step: z.literal("other_phone"),
    packageId: Uuid,
    method: z.enum(EXPRESS_METHODS),
  }),
  z.object({ flow: z.literal("buy"), step: z.literal("waiting"), paymentId: Uuid }),
  z.object({ flow: z.literal("report"), step: z.literal("describe") }),
  z.object({
    flow: z.literal("report"),
    step: z.enum(["attach", "location", "confirm"]),
    draft: ReportDraft,
  }),
]);
export type BotState = z.infer<typeof BotState>;

/** Everything kept per phone. */
export const Session = z.object({
  state: BotState,
  /** The last of Chat/Essay the user was in: resumed after a payment. */
  activity: Activity.default("menu"),
  /** Epoch ms of the last chat message (the idle TTL of Chat's memory). */
  chatAt: z.number().nullable().default(null),
});
export type Session = z.infer<typeof Session>;

export const NEW_SESSION: Session = { state: { flow: "menu" }, activity: "menu", chatAt: null };

/** Reads a stored session; anything unreadable (an older shape) starts over at the menu. */
export function readSession(value: unknown): Session {
  const parsed = Session.safeParse(value);
  return parsed.success ? parsed.data : { ...NEW_SESSION };
}

/**
 * A settled payment in the phone's inbound stream (lib/payments' `payment.settled`, as the
 * channel records it): `balance` is the balance after the credit, paid only.
 */
export type PaymentEvent =
  & { type: "payment"; paymentId: string }
  & Pick<PaymentSettled, "status" | "tokens" | "amount" | "currency" | "balance">;

/** A user's message, normalised for the flows. */
export type BotInput =
  | { kind: "text"; text: string }
  /** A tapped button or list row (or a typed answer matched to one). */
  | { kind: "choice"; id: string; title: string }
  | {
    kind: "media";
    mediaType: "image" | "document" | "audio";
    stored: boolean;
    /** Why it was not stored: a type the channel does not keep, too large, or not fetched. */
    refused?: "type" | "size" | "failed";
    mimeType?: string;
  }
  | { kind: "location"; latitude: number; longitude: number; name?: string; address?: string }
  | { kind: "other"; what: string }
  | { kind: "event"; event: PaymentEvent };

export type ChatMode = Mode;
export type AnswerResult = AnswerOnceResult;

/** The AI chat service as this channel uses it (lib/chat, injected so tests can slow it down). */
export interface ChatPort {
  answerOnce(input: AnswerOnceInput): Promise<AnswerOnceResult>;
  resetConversation(userId: string, channel: Channel): Promise<void>;
}

/** A grievance port's answer about one attachment. */
export type MediaCheck = { ok: true } | { ok: false; message: string };

/** Grievance intake as the "Report a problem" flow uses it (lib/grievances/whatsapp.ts). */
export interface GrievancePort {
  seal(text: string, phone: string): Promise<string>;
  open(sealed: string, phone: string): Promise<string>;
  /** Checks the attachment the channel kept for inbound message `inboundId`. */
  checkMedia(inboundId: string): Promise<MediaCheck>;
  /** The sentence that says why a file the channel did not keep was refused. */
  refusal(reason: "type" | "size" | "failed", mimeType?: string): string;
  /** Records the report; idempotent on `intakeKey`. */
  submit(input: {
    phone: string;
    name: string | null;
    draft: ReportDraft;
    intakeKey: string;
  }): Promise<{ reference: string }>;
  /** Where a complainant follows a report. */
  trackUrl: string;
}

export interface BotDeps {
  db: Database;
  log: Logger;
  chat: ChatPort;
  /** Grievance intake; absent: "Report a problem" says it is not available. */
  grievances?: GrievancePort;
  payments: Payments;
  /** Chat forgets the conversation after this long without a message. */
  chatIdleMs: number;
  /** Longest wait for one AI answer. */
  answerTimeoutMs: number;
  /** Approved template for payment notices (outside the 24-hour window), if configured. */
  paymentTemplate?: { name: string; language: string };
  now: () => number;
}

/** One message being handled. */
export interface BotContext {
  deps: BotDeps;
  user: User;
  /** The channel the conversation is on (WhatsApp, or another chat channel reusing the flows). */
  channel: Channel;
  /** The user's WhatsApp number, E.164. */
  phone: string;
  /** Our id of the inbound row (idempotency key for what the step starts, e.g. a payment). */
  inboundId: string;
}

export interface Step {
  session: Session;
  replies: Outgoing[];
}
