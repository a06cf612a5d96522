/**
 * E-mail through the app's SMTP relay (lib/mail, nodemailer): one message to every recipient of
 * the channel, its markdown as HTML beside a plain-text part.
 */
import { z } from "zod";
import { maskEmail } from "../../observability/mask.ts";
import { textField } from "../../text.ts";
import { toEmail } from "../render.ts";
import { defineMethod, SendError } from "./types.ts";

export const email = defineMethod({
  label: "E-mail",
  settings: z.strictObject({
    to: z.array(textField().trim().max(254).pipe(z.email())).min(1).max(50),
    subject: textField().trim().min(1).max(200),
  }),
  secret: "none",
  validate: () => Promise.resolve([]),
  recipient: ({ to }) => maskEmail(to[0]) + (to.length > 1 ? ` and ${to.length - 1} more` : ""),
  async send(message, settings, _secrets, services) {
    if (services.mailer.off) {
      throw new SendError("e-mail is off: SMTP_URL is not set", false);
    }
    const body = toEmail(message.title, message.text);
    const subject = (message.title ? `${settings.subject}: ${message.title}` : settings.subject)
      .replace(/[\r\n]+/g, " ").slice(0, 250);
    try {
      const sent = await services.mailer.send({ to: settings.to.join(", "), subject, ...body });
      return {
        providerMessageId: sent.messageId ?? null,
        response: `accepted by the SMTP relay${sent.messageId ? ` as ${sent.messageId}` : ""}`,
      };
    } catch (error) {
      // SMTP 5xx replies are permanent refusals (a bad address); everything else may pass.
      const code = (error as { responseCode?: number }).responseCode;
      const permanent = typeof code === "number" && code >= 500 && code < 600;
      throw new SendError(`SMTP: ${(error as Error).message?.slice(0, 200)}`, !permanent);
    }
  },
});
