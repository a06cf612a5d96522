/** The e-mails the web layer sends: composed here, delivered by the `email.send` job. */
import { startPasswordReset } from "../lib/accounts/password_reset.ts";
import { emailJob } from "../lib/mail/send.ts";
import type { AppContext } from "./_context.ts";

export async function requestPasswordReset(ctx: AppContext, email: string): Promise<void> {
  const reset = await startPasswordReset(ctx.db.sql, email);
  if (!reset) return;
  const link = `${ctx.config.publicUrl}/reset?token=${encodeURIComponent(reset.token)}`;
  await ctx.jobs.enqueue(emailJob, {
    to: reset.email,
    subject: "Reset your Hurukuro password",
    text: `Someone (hopefully you) asked to reset the password of your Hurukuro account.\n\n` +
      `Open this link to choose a new password. It works once, within 30 minutes:\n\n${link}\n\n` +
      `If you did not ask for this, ignore this e-mail: your password stays as it is.`,
  });
  ctx.log.info("password reset requested", { userId: reset.userId });
}
