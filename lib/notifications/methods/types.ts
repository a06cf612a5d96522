/**
 * What every delivery method provides: the same two functions, `validate(settings)` and
 * `send(message, settings, secrets)`, plus the masked recipient the log shows. A method never
 * sees the database or HTTP requests of ours: it gets its settings, the resolved secret and the
 * upstream services it talks to ({@link SendServices}).
 */
import type { z } from "zod";
import type { Enqueuer } from "../../jobs/types.ts";
import type { Mailer } from "../../mail/send.ts";
import type { Database } from "../../db/mod.ts";
import type { UrlPolicy } from "../../security/ssrf.ts";
import type { WhatsAppProvider } from "../../whatsapp/types.ts";

/** A message as a method sends it. */
export interface OutgoingMessage {
  /** The delivery's id: webhooks carry it so a receiver can drop a repeat. */
  deliveryId: string;
  topic: string;
  title: string | null;
  /** Markdown. */
  text: string;
  publishedAt: Date;
}

/** The resolved secret of a channel, when it has one (never logged, never stored in clear). */
export interface Secrets {
  secret?: string;
}

export interface SendResult {
  /** The upstream's id for the message (Slack `ts`, Telegram `message_id`, …), if it gives one. */
  providerMessageId: string | null;
  /** The upstream's answer in a line, shown by "send a test". */
  response: string;
}

/** A send that did not go through; `retryable` says whether trying again can help. */
export class SendError extends Error {
  override name = "SendError";
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/**
 * A chat upstream's failure (Slack's, Telegram's) as a `SendError`: retried when the upstream
 * says it may be, after the wait it asked for.
 */
export function upstreamSendError(
  message: string,
  failure: { retryable: boolean; retryAfterSeconds?: number },
): SendError {
  return new SendError(
    message,
    failure.retryable,
    failure.retryAfterSeconds && failure.retryAfterSeconds * 1000,
  );
}

/** Each chat upstream's name, and the app's own token it falls back to (named when unset). */
const CHAT_UPSTREAMS = {
  slack: { label: "Slack", tokenVariable: "SLACK_TOKEN" },
  telegram: { label: "Telegram", tokenVariable: "TELEGRAM_BOT_TOKEN" },
};

/**
 * A chat upstream's client options (Slack's, Telegram's): the channel's own token, else the
 * app's; a `SendError` naming what to set when there is neither.
 */
export function chatClientOptions(
  upstream: keyof typeof CHAT_UPSTREAMS,
  secrets: Secrets,
  services: Pick<SendServices, "fetch" | "slack" | "telegram">,
): { token: string; apiUrl: string; fetch?: typeof fetch } {
  const token = secrets.secret ?? services[upstream].token;
  if (!token) {
    const { label, tokenVariable } = CHAT_UPSTREAMS[upstream];
    const missing = `${label} is not configured: set ${tokenVariable} or give the channel a token`;
    throw new SendError(missing, false);
  }
  return { token, apiUrl: services[upstream].apiUrl, fetch: services.fetch };
}

/** The upstream services methods talk to, built once by the app (or a test). */
export interface SendServices {
  mailer: Mailer;
  slack: { apiUrl: string; token?: string };
  telegram: { apiUrl: string; token?: string };
  /** Null when WhatsApp is not configured. */
  whatsapp: { provider: WhatsAppProvider; db: Database; templateLanguage: string } | null;
  /** Where webhook URLs may point (lib/security/ssrf.ts). */
  urlPolicy: UrlPolicy;
  /** Queues follow-up work (the WhatsApp outbox's sender). */
  jobs: Enqueuer;
  fetch?: typeof fetch;
}

export interface MethodModule<S extends z.ZodType = z.ZodType> {
  /** Shown in the dashboard. */
  label: string;
  /** The settings, strict: an unknown field is refused. */
  settings: S;
  /** Whether a channel of this method needs a secret of its own (`optional`: falls back to the
   * app's upstream credentials). */
  secret: "none" | "optional" | "required";
  /**
   * Checks settings beyond their shape (a webhook URL must be public); returns problems by
   * field path, empty when valid.
   */
  validate(settings: z.output<S>, services: Pick<SendServices, "urlPolicy">): Promise<
    { field: string; message: string }[]
  >;
  /** The masked recipient for the log ("#alerts", "t***@e***.com and 2 more"). */
  recipient(settings: z.output<S>): string;
  send(
    message: OutgoingMessage,
    settings: z.output<S>,
    secrets: Secrets,
    services: SendServices,
  ): Promise<SendResult>;
}

/** Declares a method with its settings' type inferred. */
export function defineMethod<S extends z.ZodType>(method: MethodModule<S>): MethodModule<S> {
  return method;
}
