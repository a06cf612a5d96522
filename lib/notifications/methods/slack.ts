/** Slack `chat.postMessage` (lib/slack): the message as mrkdwn to one channel. */
import { z } from "zod";
import { createSlackClient, SlackError } from "../../slack/client.ts";
import { textField } from "../../text.ts";
import { toSlack, truncate } from "../render.ts";
import { chatClientOptions, defineMethod, upstreamSendError } from "./types.ts";

/** Slack truncates longer texts; a cut we make is marked. */
const SLACK_TEXT_LIMIT = 39_000;

export const slack = defineMethod({
  label: "Slack",
  settings: z.strictObject({
    channel: textField().trim().regex(
      /^(#[a-z0-9_.-]{1,80}|[CGD][A-Z0-9]{6,20})$/,
      "a channel name (#alerts) or id (C0123ABCD)",
    ),
  }),
  // Without a token of its own, the channel posts with SLACK_TOKEN.
  secret: "optional",
  validate: () => Promise.resolve([]),
  recipient: ({ channel }) => channel,
  async send(message, settings, secrets, services) {
    const client = createSlackClient(chatClientOptions("slack", secrets, services));
    try {
      const posted = await client.postMessage({
        channel: settings.channel,
        text: truncate(toSlack(message.title, message.text), SLACK_TEXT_LIMIT),
      });
      return { providerMessageId: posted.ts, response: `ok: ts ${posted.ts} in ${posted.channel}` };
    } catch (error) {
      if (!(error instanceof SlackError)) throw error;
      throw upstreamSendError(error.message, error.failure);
    }
  },
});
