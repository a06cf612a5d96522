/**
 * The sandbox: outside production, every upstream that is not configured is answered by a
 * local fake that speaks the real protocol (the same fakes the tests use, `tests/fakes/`), so a
 * fresh clone can be tried end to end. Production code differs from tested code only by the
 * base URL it is given. Sandboxed upstreams are named in the logs and on every page.
 */
import type { Config } from "./config.ts";
import type { Logger } from "./observability/log.ts";
import { createMailer, type Mailer } from "./mail/send.ts";
import { startFakeSmtp } from "../tests/fakes/smtp.ts";

export interface UpstreamServices {
  mailer: Mailer;
  close(): Promise<void>;
}

const SANDBOX_FROM = "Hurukuro (sandbox) <no-reply@hurukuro.invalid>";

export async function startUpstreams(config: Config, log: Logger): Promise<UpstreamServices> {
  const closers: (() => Promise<void> | void)[] = [];
  let smtpUrl = config.smtp.url;
  let from = config.smtp.from ?? SANDBOX_FROM;
  if (config.sandboxed.includes("smtp") || !smtpUrl) {
    const fake = await startFakeSmtp({
      onMessage: (m) => log.info("sandbox e-mail received", { to: m.to, subject: m.subject }),
    });
    closers.push(() => fake.close());
    smtpUrl = fake.url;
    from = SANDBOX_FROM;
    log.warn("sandbox: e-mail goes to the built-in SMTP server", { port: new URL(fake.url).port });
  }
  const mailer = createMailer(smtpUrl, from);
  closers.push(() => mailer.close());
  return {
    mailer,
    async close() {
      for (const close of closers.reverse()) await close();
    },
  };
}
