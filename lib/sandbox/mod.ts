/**
 * The sandbox: outside production, every upstream that is not configured is answered by a
 * local fake that speaks the real protocol (the same fakes the tests use, in this folder), so a
 * fresh clone can be tried end to end. Production code differs from tested code only by the
 * base URL it is given. Sandboxed upstreams are named in the logs and on every page.
 */
import type { Config } from "../config.ts";
import type { Logger } from "../observability/log.ts";
import { createMailer, type Mailer, mailOff } from "../mail/send.ts";
import { type ReceivedMail, startFakeSmtp } from "./smtp.ts";
import { startFakePaynow } from "./paynow.ts";
import { startFakeOpenAI } from "./openai.ts";
import { startFakeGraphApi } from "./whatsapp_graph.ts";
import type { WhatsAppSandbox } from "./whatsapp_simulator.ts";
import { MetaCloudProvider } from "../whatsapp/meta.ts";
import { whatsappFromConfig, type WhatsAppSetup } from "../whatsapp/setup.ts";
import { PaynowClient } from "../paynow/mod.ts";
import type { PaynowGateway } from "../payments/model.ts";
import {
  type NotificationUpstreams,
  startNotificationUpstreams,
} from "./notification_upstreams.ts";

export interface UpstreamServices {
  mailer: Mailer;
  paynow: PaynowGateway;
  /** Set when the AI upstream is sandboxed: the fake OpenAI-compatible server to use. */
  ai?: { baseUrl: string; apiKey: string; model: string };
  /** The WhatsApp provider (the built-in Graph API when sandboxed); null when not configured. */
  whatsapp: WhatsAppSetup | null;
  /** Slack and Telegram for notification channels (the built-in fakes when sandboxed). */
  slack: NotificationUpstreams["slack"];
  telegram: NotificationUpstreams["telegram"];
  /** The e-mails the built-in SMTP server received, when e-mail is sandboxed; null otherwise. */
  mailbox: SandboxMailbox | null;
  /** The fake Graph API and its secrets, when WhatsApp is sandboxed (the simulator's); else null. */
  whatsappSandbox: WhatsAppSandbox | null;
  close(): Promise<void>;
}

/** What the sandbox's SMTP server received (newest first), for reading it in /admin. */
export interface SandboxMailbox {
  messages(): ReceivedMail[];
}

/** How many received e-mails the sandbox keeps: enough to try flows by hand, bounded in memory. */
export const SANDBOX_MAILBOX_SIZE = 200;

const SANDBOX_FROM = "Hurukuro (sandbox) <no-reply@hurukuro.invalid>";
/** The sandboxed WhatsApp's webhook secrets (Meta): public, for signing local test deliveries. */
export const SANDBOX_WHATSAPP = {
  appSecret: "hurukuro-sandbox-app-secret",
  verifyToken: "hurukuro-sandbox-verify-token",
};

export async function startUpstreams(config: Config, log: Logger): Promise<UpstreamServices> {
  const closers: (() => Promise<void> | void)[] = [];
  let mailer: Mailer;
  let mailbox: SandboxMailbox | null = null;
  if (config.sandboxed.includes("smtp")) {
    const fake = await startFakeSmtp({
      onMessage: (m) => {
        log.info("sandbox e-mail received", { to: m.to, subject: m.subject });
        fake.messages.splice(0, fake.messages.length - SANDBOX_MAILBOX_SIZE);
      },
    });
    closers.push(() => fake.close());
    mailbox = { messages: () => [...fake.messages].reverse() };
    mailer = createMailer(fake.url, SANDBOX_FROM);
    log.warn("sandbox: e-mail goes to the built-in SMTP server", { port: new URL(fake.url).port });
  } else if (config.smtp.url) {
    mailer = createMailer(config.smtp.url, config.smtp.from ?? SANDBOX_FROM);
  } else {
    // SANDBOX=0 means no fake anywhere: without a relay, e-mail is off rather than pretended.
    mailer = mailOff(log);
    log.warn("e-mail is off: SMTP_URL is not set and SANDBOX=0; e-mails are dropped unsent");
  }
  closers.push(() => mailer.close());

  let paynow: PaynowGateway;
  if (config.sandboxed.includes("paynow")) {
    // Two integrations, as production may have: USD and ZiG, each with its own key.
    const keys = { "sandbox-usd": crypto.randomUUID(), "sandbox-zig": crypto.randomUUID() };
    const fake = await startFakePaynow({ integrations: keys });
    closers.push(() => fake.close());
    const client = (id: keyof typeof keys) =>
      new PaynowClient({ integrationId: id, integrationKey: keys[id], baseUrl: fake.url });
    paynow = {
      clients: { USD: client("sandbox-usd"), ZiG: client("sandbox-zig") },
      authEmail: "sandbox@hurukuro.invalid",
    };
    log.warn("sandbox: payments go to the built-in Paynow (test numbers 0771111111 pay)", {
      url: fake.url,
    });
  } else {
    const client = (i: { integrationId: string; integrationKey: string } | undefined) =>
      i && new PaynowClient({ ...i, baseUrl: config.paynow.baseUrl });
    paynow = {
      clients: { USD: client(config.paynow.usd), ZiG: client(config.paynow.zig) },
      authEmail: config.paynow.authEmail ?? "",
    };
  }
  let ai: UpstreamServices["ai"];
  if (config.sandboxed.includes("ai")) {
    // Paced like a real model, so the web chat visibly streams (quicker under test).
    const fake = await startFakeOpenAI(
      config.env === "test"
        ? { firstTokenDelayMs: 5, deltaDelayMs: 2 }
        : { firstTokenDelayMs: 300, deltaDelayMs: 30 },
    );
    closers.push(() => fake.close());
    ai = { baseUrl: fake.baseUrl, apiKey: fake.apiKey, model: "gpt-4o-mini" };
    log.warn("sandbox: AI answers come from the built-in simulated model", { url: fake.url });
  }
  let whatsapp = whatsappFromConfig(config);
  let whatsappSandbox: WhatsAppSandbox | null = null;
  if (config.sandboxed.includes("whatsapp")) {
    const graph = await startFakeGraphApi({ accessToken: crypto.randomUUID() });
    closers.push(() => graph.close());
    // Fixed, published values: the sandbox is never allowed in production, and a developer
    // signs test deliveries with them (lib/sandbox/whatsapp_sign.ts, docs/whatsapp.md).
    const verifyToken = SANDBOX_WHATSAPP.verifyToken;
    const phoneNumberId = "100000000000001";
    whatsappSandbox = { graph, appSecret: SANDBOX_WHATSAPP.appSecret, phoneNumberId };
    whatsapp = {
      provider: new MetaCloudProvider({
        accessToken: graph.accessToken,
        appSecret: SANDBOX_WHATSAPP.appSecret,
        phoneNumberId,
        verifyToken,
        graphUrl: graph.url,
      }),
      verifyToken,
    };
    log.warn("sandbox: WhatsApp messages go to the built-in Graph API (see /_fake/messages)", {
      url: graph.url,
    });
  }
  const notify = await startNotificationUpstreams(config, log);
  closers.push(() => notify.close());

  return {
    mailer,
    paynow,
    ai,
    whatsapp,
    slack: notify.slack,
    telegram: notify.telegram,
    mailbox,
    whatsappSandbox,
    async close() {
      for (const close of closers.reverse()) await close();
    },
  };
}
