/** Telegram `sendMessage` (lib/telegram): the message as Telegram's HTML to one chat. */
import { z } from "zod";
import { createTelegramClient, TELEGRAM_TEXT_LIMIT, TelegramError } from "../../telegram/client.ts";
import { textField } from "../../text.ts";
import { toPlainText, toTelegramHtml, truncate } from "../render.ts";
import { chatClientOptions, defineMethod, upstreamSendError } from "./types.ts";

export const telegram = defineMethod({
  label: "Telegram",
  settings: z.strictObject({
    chat_id: z.union([
      z.number().int().transform(String),
      textField().trim().regex(
        /^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$/,
        "a chat id (-1001234567890) or a public channel (@name)",
      ),
    ]),
  }),
  // Without a token of its own, the channel sends with TELEGRAM_BOT_TOKEN.
  secret: "optional",
  validate: () => Promise.resolve([]),
  recipient: ({ chat_id }) =>
    chat_id.startsWith("@") ? chat_id : `${chat_id.slice(0, 4)}***${chat_id.slice(-2)}`,
  async send(message, settings, secrets, services) {
    const client = createTelegramClient(chatClientOptions("telegram", secrets, services));
    // Telegram counts the text it shows; a long message goes as plain text, cut to the limit,
    // rather than as HTML cut in the middle of a tag.
    const plain = toPlainText(message.title, message.text);
    const long = plain.length > TELEGRAM_TEXT_LIMIT;
    try {
      const sent = await client.sendMessage({
        chat_id: settings.chat_id,
        text: long
          ? truncate(plain, TELEGRAM_TEXT_LIMIT)
          : toTelegramHtml(message.title, message.text),
        ...(long ? {} : { parse_mode: "HTML" as const }),
        link_preview_options: { is_disabled: true },
      });
      return {
        providerMessageId: String(sent.message_id),
        response: `ok: message ${sent.message_id} in chat ${sent.chat.id}`,
      };
    } catch (error) {
      if (!(error instanceof TelegramError)) throw error;
      throw upstreamSendError(error.message, error.failure);
    }
  },
});
