/**
 * The bodies of Meta's `POST /{phone-number-id}/messages`. Interactive
 * messages are validated against Meta's limits, so a menu that would be refused fails in our
 * tests with a clear message instead of in production with error 100: display text is shortened
 * with "…", structural mistakes (4 buttons, 11 rows, duplicate or overlong ids) throw
 * `WhatsAppError("invalid_message")`.
 */
import { fitText, META_TEXT_LIMIT } from "./format.ts";
import { e164, type Json } from "./http.ts";
import { type OutboundMessage, WhatsAppError } from "./types.ts";

/** Meta's limits for interactive messages (characters). */
export const META_LIMITS = {
  text: META_TEXT_LIMIT,
  interactiveBody: 1024,
  header: 60,
  footer: 60,
  buttons: 3,
  buttonTitle: 20,
  buttonId: 256,
  listButton: 20,
  sections: 10,
  rows: 10,
  sectionTitle: 24,
  rowTitle: 24,
  rowId: 200,
  rowDescription: 72,
} as const;

export function invalid(message: string): WhatsAppError {
  return new WhatsAppError("invalid_message", message, { provider: "meta" });
}

function requireText(value: string | undefined, what: string): string {
  if (!value?.trim()) throw invalid(`${what} must not be empty`);
  return value;
}

function requireId(id: string, what: string, max: number): string {
  if (!id.trim()) throw invalid(`${what} id must not be empty`);
  if (id.length > max) throw invalid(`${what} id is ${id.length} chars, over Meta's ${max}`);
  return id;
}

function unique(values: string[], what: string): void {
  const seen = new Set<string>();
  for (const v of values) {
    const key = v.toLowerCase();
    if (seen.has(key)) throw invalid(`${what} must be unique, "${v}" repeats`);
    seen.add(key);
  }
}

/**
 * The JSON body of `POST /{phone-number-id}/messages` for `message` to `to` (E.164, digits or
 * "whatsapp:+…"). Shortens over-long display text; throws `WhatsAppError("invalid_message")` for
 * what cannot be shortened safely.
 */
export function metaMessagePayload(to: string, message: OutboundMessage): Json {
  const recipient = e164(to).slice(1);
  if (!recipient) throw invalid(`"${to}" is not a phone number`);
  const envelope: Json = {
    messaging_product: "whatsapp",
    recipient_type: "individual",
    to: recipient,
  };
  if (message.type !== "template" && message.replyTo) {
    envelope.context = { message_id: message.replyTo };
  }

  switch (message.type) {
    case "text": {
      requireText(message.text, "text");
      if (message.text.length > META_LIMITS.text) {
        throw invalid(
          `text is ${message.text.length} chars, over Meta's ${META_LIMITS.text}: split it first`,
        );
      }
      return {
        ...envelope,
        type: "text",
        text: { body: message.text, preview_url: message.previewUrl ?? false },
      };
    }
    case "buttons": {
      const count = message.buttons.length;
      if (count < 1 || count > META_LIMITS.buttons) {
        throw invalid(`reply buttons: ${count} given, Meta allows 1 to ${META_LIMITS.buttons}`);
      }
      const buttons = message.buttons.map((b) => ({
        type: "reply",
        reply: {
          id: requireId(b.id, "button", META_LIMITS.buttonId),
          title: fitText(requireText(b.title, "button title"), META_LIMITS.buttonTitle),
        },
      }));
      unique(buttons.map((b) => b.reply.id), "button ids");
      unique(buttons.map((b) => b.reply.title), "button titles (after shortening to 20 chars)");
      return interactive(envelope, "button", interactiveTexts(message), { buttons });
    }
    case "list": {
      const sectionCount = message.sections.length;
      if (sectionCount < 1 || sectionCount > META_LIMITS.sections) {
        throw invalid(`list: ${sectionCount} sections, Meta allows 1 to ${META_LIMITS.sections}`);
      }
      const rowCount = message.sections.reduce((n, s) => n + s.rows.length, 0);
      if (rowCount < 1 || rowCount > META_LIMITS.rows) {
        throw invalid(`list: ${rowCount} rows, Meta allows 1 to ${META_LIMITS.rows} in all`);
      }
      const sections = message.sections.map((section, i) => {
        if (section.rows.length === 0) throw invalid(`list section ${i + 1} has no rows`);
        if (sectionCount > 1 && !section.title?.trim()) {
          throw invalid("list sections need titles when there is more than one");
        }
        return {
          ...(section.title?.trim()
            ? { title: fitText(section.title, META_LIMITS.sectionTitle) }
            : {}),
          rows: section.rows.map((row) => ({
            id: requireId(row.id, "row", META_LIMITS.rowId),
            title: fitText(requireText(row.title, "row title"), META_LIMITS.rowTitle),
            ...(row.description?.trim()
              ? { description: fitText(row.description, META_LIMITS.rowDescription) }
              : {}),
          })),
        };
      });
      unique(sections.flatMap((s) => s.rows.map((r) => r.id)), "list row ids");
      return interactive(envelope, "list", interactiveTexts(message), {
        button: fitText(requireText(message.button, "list button"), META_LIMITS.listButton),
        sections,
      });
    }
    case "template": {
      requireText(message.name, "template name");
      requireText(message.language, "template language");
      const parameters = message.parameters ?? [];
      return {
        ...envelope,
        type: "template",
        template: {
          name: message.name,
          language: { code: message.language },
          ...(parameters.length
            ? {
              components: [{
                type: "body",
                parameters: parameters.map((text) => ({ type: "text", text })),
              }],
            }
            : {}),
        },
      };
    }
  }
}

/** An interactive message: its texts (`interactiveTexts`), then its choices (`action`). */
function interactive(envelope: Json, type: "button" | "list", texts: Json, action: Json): Json {
  return { ...envelope, type: "interactive", interactive: { type, ...texts, action } };
}

/** What every interactive message shows besides its choices: header and footer if any, body. */
function interactiveTexts(message: { header?: string; footer?: string; body: string }): Json {
  return {
    ...(message.header?.trim()
      ? { header: { type: "text", text: fitText(message.header, META_LIMITS.header) } }
      : {}),
    ...(message.footer?.trim()
      ? { footer: { text: fitText(message.footer, META_LIMITS.footer) } }
      : {}),
    body: { text: fitText(requireText(message.body, "body"), META_LIMITS.interactiveBody) },
  };
}
