/**
 * Outgoing e-mail through SMTP (npm `nodemailer`), to `SMTP_URL` or, in the sandbox, to the
 * built-in SMTP server. Mail is always sent from a job (`email.send`, notifications lane), so a
 * slow or failing relay never holds up a request and failed sends are retried.
 */
import nodemailer from "nodemailer";
import { z } from "zod";
import { jobType } from "../jobs/types.ts";
import type { Logger } from "../observability/log.ts";

export const emailJob = jobType({
  name: "email.send",
  schema: z.object({
    to: z.email(),
    subject: z.string().min(1).max(200),
    text: z.string().min(1),
    html: z.string().optional(),
  }),
  lane: "notifications",
  retry: { maxAttempts: 6, backoffMs: [5_000, 30_000, 120_000, 600_000, 1_800_000] },
});

export type Email = z.infer<typeof emailJob.schema>;

export interface Mailer {
  /** `to` may list several addresses, comma-separated. */
  send(mail: Email): Promise<{ messageId?: string }>;
  close(): void;
  /** True when e-mail is off (no relay, no sandbox): `send` drops every mail. */
  readonly off?: boolean;
}

export function createMailer(smtpUrl: string, from: string): Mailer {
  const transport = nodemailer.createTransport(smtpUrl, { from });
  return {
    async send(mail) {
      const info = await transport.sendMail({ from, ...mail });
      return { messageId: typeof info?.messageId === "string" ? info.messageId : undefined };
    },
    close: () => transport.close(),
  };
}

/** No relay and no sandbox: each e-mail is dropped, with a debug line saying which. */
export function mailOff(log: Logger): Mailer {
  return {
    send(mail) {
      log.debug("e-mail not sent: e-mail is off", { subject: mail.subject });
      return Promise.resolve({});
    },
    close() {},
    off: true,
  };
}
