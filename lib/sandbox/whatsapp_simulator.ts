/**
 * The WhatsApp simulator behind `/admin/simulator`: an admin plays a WhatsApp user of the
 * sandboxed Meta channel. What they type, or the reply button or list row they tap, becomes the
 * webhook Meta would send (built and signed by whatsapp_sign.ts, with the sandbox's app secret),
 * and goes through the app's own webhook intake, which checks `X-Hub-Signature-256` over the raw
 * bytes exactly as for a delivery from Meta. The bot's answers are read back from the fake Graph
 * API's record of what was sent to that number.
 *
 * The delivery is handed to the intake ({@link WhatsAppSimulatorDeps.receive}, the same
 * `WebhookReceiver.receive` that `POST /api/whatsapp/webhook` calls) rather than POSTed to our
 * own URL: it is the same code past the socket, signature check included, and it does not depend
 * on PUBLIC_URL being reachable from the server itself (behind a proxy or in a container it
 * often is not).
 *
 * What the simulated user sent is kept here, in memory (the newest {@link SENT_KEPT}), like the
 * fake Graph API's own record: the sandbox is one process, restarted at will.
 */
import { z } from "zod";
import { findUserByPhone } from "../accounts/users.ts";
import type { Sql } from "../db/mod.ts";
import { AppError } from "../errors.ts";
import { isStorableText, UNSTORABLE_TEXT } from "../text.ts";
import { getBalance } from "../wallet/ledger.ts";
import type { WebhookAnswer, WebhookRequest } from "../whatsapp/inbound.ts";
import type { RecordedMessage, RecordedRead } from "./whatsapp_graph.ts";
import {
  metaButtonReply,
  metaListReply,
  type MetaMessage,
  metaText,
  metaWebhook,
  signedMetaWebhook,
} from "./whatsapp_sign.ts";

/**
 * The number the simulator starts with: Paynow's "paid after 5 s" test number as a WhatsApp
 * number, so "Buy tokens → Pay from this number" settles in the sandbox.
 */
export const SIMULATOR_DEFAULT_PHONE = "+263771111111";
/** Meta's limit for a text message's body. */
export const SIMULATOR_TEXT_LIMIT = 4096;
/** How many messages a thread shows (the newest). */
export const SIMULATOR_THREAD_SIZE = 200;
/** How many sent messages (all numbers) are kept in memory. */
const SENT_KEPT = 2_000;
/** The profile name the simulated user's deliveries carry. */
const PROFILE_NAME = "Simulator";

/** The sandboxed Meta channel the simulator talks to (lib/sandbox/mod.ts). */
export interface WhatsAppSandbox {
  /** The fake Graph API's records: what the bot sent, and which messages it marked read. */
  graph: { readonly messages: readonly RecordedMessage[]; readonly reads: readonly RecordedRead[] };
  appSecret: string;
  phoneNumberId: string;
}

export interface WhatsAppSimulatorDeps {
  sandbox: WhatsAppSandbox;
  sql: Sql;
  /** The webhook intake (`WebhookReceiver.receive`): signature check, storage, reply job. */
  receive(request: WebhookRequest): Promise<WebhookAnswer>;
}

export interface ThreadButton {
  id: string;
  title: string;
}

export interface ThreadRow {
  id: string;
  title: string;
  description?: string;
}

/** One message of a thread, as the simulator's phone shows it. */
export interface ThreadItem {
  /** The `wamid.…` of the message. */
  id: string;
  from: "user" | "bot";
  /** Epoch ms: when it was sent. */
  at: number;
  /** `reply`: a tapped button or list row; `other`: media, or a template with no text. */
  kind: "text" | "buttons" | "list" | "template" | "reply" | "other";
  text: string;
  header?: string;
  footer?: string;
  /** Reply buttons the user can tap (`kind: "buttons"`). */
  buttons?: ThreadButton[];
  /** The list's button and rows (`kind: "list"`). */
  list?: { button: string; sections: { title?: string; rows: ThreadRow[] }[] };
  /** For the user's messages: the webhook intake's HTTP status (200 = stored). */
  webhookStatus?: number;
  /** For the user's messages: the bot marked it read. */
  read?: boolean;
}

export interface Thread {
  phone: string;
  items: ThreadItem[];
  /** The wallet of the account of this number; null before its first message. */
  balance: number | null;
}

/** What the simulated user does: type a text, or tap a button or row of one of the bot's messages. */
export type SimulatorInput =
  | { type: "text"; text: string }
  | { type: "reply"; replyTo: string; id: string };

const storable = (what: string) =>
  z.string({ error: `${what} must be a string` }).refine(isStorableText, {
    message: UNSTORABLE_TEXT,
    abort: true,
  });

/** The body of a send: the number and what it sends. Every string follows the text rule. */
export const SimulatorSendSchema = z.discriminatedUnion("type", [
  z.strictObject({
    phone: storable("phone").max(32, "phone: at most 32 characters"),
    type: z.literal("text"),
    text: storable("text")
      .max(SIMULATOR_TEXT_LIMIT, `at most ${SIMULATOR_TEXT_LIMIT} characters (WhatsApp's limit)`)
      .refine((t) => t.trim() !== "", "type a message first"),
  }),
  z.strictObject({
    phone: storable("phone").max(32, "phone: at most 32 characters"),
    type: z.literal("reply"),
    replyTo: storable("replyTo").min(1).max(256),
    id: storable("id").min(1).max(256),
  }),
], { error: 'type must be "text" or "reply"' });

/** A `validation_failed` naming the simulator's input `field`. */
const invalid = (field: string, why: string) =>
  new AppError("validation_failed", `${field}: ${why}`, { field });

/**
 * A phone number as WhatsApp numbers are written (E.164: `+`, country code, 7 to 15 digits;
 * spaces, dashes and brackets ignored; `00` for `+`), or a Zimbabwean local number (`07…`).
 * Throws a `validation_failed` naming `phone` otherwise.
 */
export function parseSimulatorPhone(raw: string): string {
  const refuse = (why: string) => invalid("phone", why);
  if (!isStorableText(raw)) throw refuse(UNSTORABLE_TEXT);
  const compact = raw.trim().replace(/[\s\-.()]/g, "");
  if (compact === "") throw refuse("enter a phone number, e.g. +263771111111.");
  if (compact.length > 20 || !/^(\+|00)?\d+$/.test(compact)) {
    throw refuse("a phone number has only digits, with + and the country code first.");
  }
  let digits = compact.replace(/^(\+|00)/, "");
  if (!/^(\+|00)/.test(compact)) {
    // Without a country code only a Zimbabwean local number (07…) is understood.
    if (!/^07\d{8}$/.test(compact)) {
      throw refuse("start with + and the country code, e.g. +263771111111.");
    }
    digits = `263${compact.slice(1)}`;
  }
  if (!/^[1-9]\d{6,14}$/.test(digits)) {
    throw refuse("E.164 numbers have 7 to 15 digits after the +, the first not 0.");
  }
  return `+${digits}`;
}

const digitsOf = (phone: string) => phone.replace(/\D/g, "");

// The parts of the Graph API bodies (lib/whatsapp/meta_payload.ts) a thread shows. Parsed, not
// cast: a message the bot sends in some new shape is shown as its text instead of breaking.
const TextPart = z.object({ text: z.string() });
const Interactive = z.object({
  header: TextPart.partial().optional(),
  body: TextPart.partial().optional(),
  footer: TextPart.partial().optional(),
});
const InteractivePayload = z.object({
  interactive: z.discriminatedUnion("type", [
    Interactive.extend({
      type: z.literal("button"),
      action: z.object({
        buttons: z.array(z.object({ reply: z.object({ id: z.string(), title: z.string() }) })),
      }),
    }),
    Interactive.extend({
      type: z.literal("list"),
      action: z.object({
        button: z.string(),
        sections: z.array(z.object({
          title: z.string().optional(),
          rows: z.array(z.object({
            id: z.string(),
            title: z.string(),
            description: z.string().optional(),
          })),
        })),
      }),
    }),
  ]),
});
const TemplatePayload = z.object({
  template: z.object({
    name: z.string(),
    components: z.array(z.object({
      parameters: z.array(z.object({ text: z.string().optional() })).optional(),
    })).optional(),
  }),
});

/** A message the bot sent, as the thread shows it. */
export function botItem(message: RecordedMessage): ThreadItem {
  const base = { id: message.id, from: "bot" as const, at: message.receivedAt };
  const interactive = InteractivePayload.safeParse(message.payload);
  if (interactive.success) {
    // Its body (else the recorded text), header and footer, then its choices.
    const i = interactive.data.interactive;
    return {
      ...base,
      kind: i.type === "button" ? "buttons" : "list",
      text: i.body?.text ?? message.text,
      ...(i.header?.text ? { header: i.header.text } : {}),
      ...(i.footer?.text ? { footer: i.footer.text } : {}),
      ...(i.type === "button"
        ? { buttons: i.action.buttons.map((b) => ({ id: b.reply.id, title: b.reply.title })) }
        : { list: { button: i.action.button, sections: i.action.sections } }),
    };
  }
  const template = TemplatePayload.safeParse(message.payload);
  if (message.type === "template" && template.success) {
    const values = (template.data.template.components ?? [])
      .flatMap((c) => c.parameters ?? []).map((p) => p.text ?? "");
    return {
      ...base,
      kind: "template",
      text: `Template “${template.data.template.name}”` +
        (values.length ? `: ${values.join(" · ")}` : ""),
    };
  }
  return { ...base, kind: message.type === "text" ? "text" : "other", text: message.text };
}

/** The choices a bot message offered: its buttons, or its list's rows. */
function offered(item: ThreadItem): ThreadRow[] {
  return item.buttons ?? item.list?.sections.flatMap((s) => s.rows) ?? [];
}

interface Sent {
  item: ThreadItem;
  /** Digits of the simulated number. */
  phone: string;
}

export interface WhatsAppSimulator {
  /** The number the page starts with ({@link SIMULATOR_DEFAULT_PHONE}). */
  readonly defaultPhone: string;
  /** Sends as `phone` (already parsed); resolves once the intake answered, with what was sent. */
  send(phone: string, input: SimulatorInput): Promise<ThreadItem>;
  /** The conversation with `phone`: what it sent and what the bot sent back, oldest first. */
  thread(phone: string): Promise<Thread>;
}

export function createWhatsAppSimulator(deps: WhatsAppSimulatorDeps): WhatsAppSimulator {
  const sent: Sent[] = [];
  const { graph } = deps.sandbox;

  const botMessagesTo = (phone: string) => {
    const digits = digitsOf(phone);
    return graph.messages.filter((m) => digitsOf(m.to) === digits);
  };

  /** The Meta message for `input`; a reply is checked against what the bot offered. */
  const build = (
    phone: string,
    input: SimulatorInput,
  ): { meta: MetaMessage; item: Omit<ThreadItem, "id" | "at"> } => {
    const init = { from: phone, name: PROFILE_NAME };
    if (input.type === "text") {
      return {
        meta: metaText({ ...init, text: input.text }),
        item: { from: "user", kind: "text", text: input.text },
      };
    }
    const original = botMessagesTo(phone).find((m) => m.id === input.replyTo);
    if (!original) throw invalid("replyTo", "the bot sent no message with this id to this number.");
    const shown = botItem(original);
    const choice = offered(shown).find((c) => c.id === input.id);
    if (!choice) throw invalid("id", "that message offers no button or list row with this id.");
    const context = { id: original.id };
    const meta = shown.kind === "list"
      ? metaListReply({
        ...init,
        context,
        rowId: choice.id,
        title: choice.title,
        ...(choice.description ? { description: choice.description } : {}),
      })
      : metaButtonReply({ ...init, context, buttonId: choice.id, title: choice.title });
    return { meta, item: { from: "user", kind: "reply", text: choice.title } };
  };

  return {
    defaultPhone: SIMULATOR_DEFAULT_PHONE,

    async send(phone, input) {
      const { meta, item } = build(phone, input);
      const payload = metaWebhook({
        messages: [meta],
        phoneNumberId: deps.sandbox.phoneNumberId,
      });
      const signed = signedMetaWebhook(deps.sandbox.appSecret, payload);
      // Stamped before the intake answers: the bot's reply may be recorded before it returns.
      const at = Date.now();
      const answer = await deps.receive({
        provider: "meta",
        method: "POST",
        pathAndQuery: "/api/whatsapp/webhook",
        headers: new Headers(signed.headers),
        body: new TextEncoder().encode(signed.body),
        startedAt: performance.now(),
      });
      const shown: ThreadItem = {
        ...item,
        id: String(meta.message.id),
        at,
        webhookStatus: answer.status,
      };
      sent.push({ item: shown, phone: digitsOf(phone) });
      if (sent.length > SENT_KEPT) sent.splice(0, sent.length - SENT_KEPT);
      return shown;
    },

    async thread(phone) {
      const digits = digitsOf(phone);
      const read = new Set(graph.reads.map((r) => r.messageId));
      const mine = sent.filter((s) => s.phone === digits)
        .map((s) => ({ ...s.item, read: read.has(s.item.id) }));
      const items = [...mine, ...botMessagesTo(phone).map(botItem)]
        .sort((a, b) => a.at - b.at)
        .slice(-SIMULATOR_THREAD_SIZE);
      const user = await findUserByPhone(deps.sql, phone);
      const balance = user
        ? (await getBalance(deps.sql, user.id).catch(() => null))?.balance
        : null;
      return { phone, items, balance: balance ?? null };
    },
  };
}
