/**
 * WhatsApp through the app's own send path: each number gets the message recorded in the
 * WhatsApp outbox (lib/whatsapp/outbox.ts), which sends in order per phone, paces, retries and
 * applies the 24-hour window. Outside the window only an approved template may go: the channel
 * names one, and the message's plain text fills its first placeholder. Without a template, a
 * number outside the window gets nothing (the outbox records why).
 *
 * The delivery counts as sent once the outbox holds the messages; their own delivery is in the
 * outbox's records (`whatsapp_outbound`).
 */
import { z } from "zod";
import { maskPhone } from "../../observability/mask.ts";
import { textField } from "../../text.ts";
import { kickSender, recordOutgoing } from "../../whatsapp/outbox.ts";
import { toPlainText, toWhatsApp } from "../render.ts";
import { defineMethod, SendError } from "./types.ts";

/** A template parameter may not carry new lines or long runs of spaces; it is kept short. */
const TEMPLATE_PARAMETER_LIMIT = 1_000;

export const whatsapp = defineMethod({
  label: "WhatsApp",
  settings: z.strictObject({
    numbers: z.array(
      textField().trim().regex(
        /^\+[1-9]\d{7,14}$/,
        "a number in international form (+263771234567)",
      ),
    ).min(1).max(20),
    template: z.strictObject({
      name: textField().trim().regex(/^[\w.-]{1,512}$/, "an approved template's name"),
      language: textField().trim().regex(/^[a-z]{2,3}(_[A-Z]{2})?$/, "a language code (en, en_US)")
        .optional(),
    }).optional(),
  }),
  secret: "none",
  validate: () => Promise.resolve([]),
  recipient: ({ numbers }) =>
    maskPhone(numbers[0]) + (numbers.length > 1 ? ` and ${numbers.length - 1} more` : ""),
  async send(message, settings, _secrets, services) {
    const wa = services.whatsapp;
    if (!wa) throw new SendError("WhatsApp is not configured", false);
    const text = toWhatsApp(message.title, message.text);
    const parameter = toPlainText(message.title, message.text).replace(/\s+/g, " ").trim()
      .slice(0, TEMPLATE_PARAMETER_LIMIT);
    const template = settings.template && {
      type: "template" as const,
      name: settings.template.name,
      language: settings.template.language ?? wa.templateLanguage,
      parameters: [parameter],
    };
    const numbers = [...new Set(settings.numbers)];
    await wa.db.sql.begin(async (tx) => {
      for (const phone of numbers) {
        await recordOutgoing(tx, phone, [{ message: { type: "text", text }, template }], {
          kind: "notice",
          textLimit: wa.provider.textLimit,
        });
      }
    });
    for (const phone of numbers) await kickSender(services.jobs, phone);
    return {
      providerMessageId: null,
      response: `queued in the WhatsApp outbox for ${numbers.length} number${
        numbers.length === 1 ? "" : "s"
      }`,
    };
  },
});
