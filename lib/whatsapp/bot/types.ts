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
import type { PaymentDeps } from "../../payments/payments.ts";
import type { User } from "../../accounts/users.ts";
import type { AnswerOnceInput, AnswerOnceResult, Channel, Mode } from "../../chat/mod.ts";
import type { Outgoing } from "../outbox.ts";

export const EXPRESS = ["ecocash", "onemoney", "innbucks"] as const;
export type Express = (typeof EXPRESS)[number];

/** What the user comes back to after buying tokens. */
export const Activity = z.enum(["menu", "chat", "essay"]);
export type Activity = z.infer<typeof Activity>;

const Uuid = z.string().regex(/^[0-9a-f-]{36}$/i);

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
    method: z.enum(EXPRESS),
  }),
  z.object({
    flow: z.literal("buy"),
    step: z.literal("other_phone"),
    packageId: Uuid,
    method: z.enum(EXPRESS),
  }),
  z.object({ flow: z.literal("buy"), step: z.literal("waiting"), paymentId: Uuid }),
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

export interface PaymentEvent {
  type: "payment";
  paymentId: string;
  status: "paid" | "cancelled" | "failed" | "expired";
  tokens: number;
  amount: string;
  currency: string;
  /** Balance after the credit (paid only). */
  balance: number | null;
}

/** A user's message, normalised for the flows. */
export type BotInput =
  | { kind: "text"; text: string }
  /** A tapped button or list row (or a typed answer matched to one). */
  | { kind: "choice"; id: string; title: string }
  | { kind: "media"; mediaType: "image" | "document" | "audio"; stored: boolean }
  | { kind: "other"; what: string }
  | { kind: "event"; event: PaymentEvent };

export type ChatMode = Mode;

export type AnswerResult = AnswerOnceResult;

/** The AI chat service as this channel uses it (lib/chat, injected so tests can slow it down). */
export interface ChatPort {
  answerOnce(input: AnswerOnceInput): Promise<AnswerResult>;
  resetConversation(userId: string, channel: Channel): Promise<void>;
}

export interface BotDeps {
  db: Database;
  log: Logger;
  chat: ChatPort;
  payments: () => PaymentDeps;
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
  /** The user's WhatsApp number, E.164. */
  phone: string;
  /** Our id of the inbound row (idempotency key for what the step starts, e.g. a payment). */
  inboundId: string;
}

export interface Step {
  session: Session;
  replies: Outgoing[];
}
