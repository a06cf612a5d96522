/** `email.send`: delivers one e-mail through the configured SMTP relay (lib/mail). */
import { defineHandler } from "../lib/jobs/types.ts";
import { emailJob, type Mailer } from "../lib/mail/send.ts";

export const emailSendHandler = (mailer: Mailer) =>
  defineHandler(emailJob, async (mail) => {
    await mailer.send(mail);
  });
