/**
 * The form fields of the messages we send through Twilio, checked against its limits before they
 * leave (https://www.twilio.com/docs/messaging/api/message-resource).
 */
import { TWILIO_TEXT_LIMIT } from "./format.ts";
import { renderNumberedMenu } from "./menu.ts";
import { type OutboundMessage, WhatsAppError } from "./types.ts";

export function invalid(message: string): WhatsAppError {
  return new WhatsAppError("invalid_message", message, { provider: "twilio" });
}

const CONTENT_SID = /^HX[0-9a-fA-F]{32}$/;

/**
 * The form fields of a Messages API call for `message` (without From/To). Menus become numbered
 * text; templates need a Content SID (given as the name, or mapped by `contentSids`).
 */
export function twilioMessageFields(
  message: OutboundMessage,
  contentSids: Record<string, string> = {},
): Record<string, string> {
  switch (message.type) {
    case "text":
      return { Body: checkBody(message.text) };
    case "buttons":
    case "list":
      if (message.type === "buttons" && message.buttons.length === 0) {
        throw invalid("a menu needs at least one choice");
      }
      if (message.type === "list" && message.sections.every((s) => s.rows.length === 0)) {
        throw invalid("a menu needs at least one choice");
      }
      return { Body: checkBody(renderNumberedMenu(message)) };
    case "template": {
      const sid = CONTENT_SID.test(message.name) ? message.name : contentSids[message.name];
      if (!sid) {
        throw invalid(`no Twilio Content SID for template "${message.name}" (set contentSids)`);
      }
      const variables = Object.fromEntries(
        (message.parameters ?? []).map((value, i) => [String(i + 1), value]),
      );
      return {
        ContentSid: sid,
        ...(Object.keys(variables).length ? { ContentVariables: JSON.stringify(variables) } : {}),
      };
    }
  }
}

function checkBody(text: string): string {
  if (!text.trim()) throw invalid("text must not be empty");
  if (text.length > TWILIO_TEXT_LIMIT) {
    throw invalid(
      `text is ${text.length} chars, over Twilio's ${TWILIO_TEXT_LIMIT}: split it first`,
    );
  }
  return text;
}
