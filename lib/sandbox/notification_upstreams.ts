/**
 * Slack and Telegram for notifications: the configured services, or in the sandbox (either one
 * unconfigured outside production) the local fakes of this folder, named in the logs like the
 * other sandboxed upstreams. Unconfigured with SANDBOX=0, a channel of that method fails its
 * deliveries saying which variable is missing.
 */
import type { Config } from "../config.ts";
import type { Logger } from "../observability/log.ts";
import { startFakeSlack } from "./slack.ts";
import { startFakeTelegram } from "./telegram.ts";

export interface NotificationUpstreams {
  slack: { apiUrl: string; token?: string };
  telegram: { apiUrl: string; token?: string };
  close(): Promise<void>;
}

export async function startNotificationUpstreams(
  config: Config,
  log: Logger,
): Promise<NotificationUpstreams> {
  const closers: (() => Promise<void>)[] = [];
  let slack: NotificationUpstreams["slack"] = {
    apiUrl: config.slack.apiUrl,
    token: config.slack.token,
  };
  let telegram: NotificationUpstreams["telegram"] = {
    apiUrl: config.telegram.apiUrl,
    token: config.telegram.botToken,
  };
  if (config.sandboxed.includes("slack")) {
    const fake = await startFakeSlack({
      onMessage: (m) => log.info("sandbox Slack message received", { channel: m.channel }),
    });
    closers.push(() => fake.close());
    slack = { apiUrl: fake.url, token: fake.token };
    log.warn("sandbox: Slack notifications go to the built-in Slack (see /_fake/messages)", {
      url: fake.url,
    });
  }
  if (config.sandboxed.includes("telegram")) {
    const fake = await startFakeTelegram({
      onMessage: (m) => log.info("sandbox Telegram message received", { chatId: m.chatId }),
    });
    closers.push(() => fake.close());
    telegram = { apiUrl: fake.url, token: fake.token };
    log.warn("sandbox: Telegram messages go to the built-in Bot API (see /_fake/messages)", {
      url: fake.url,
    });
  }
  return {
    slack,
    telegram,
    async close() {
      for (const close of closers.reverse()) await close();
    },
  };
}
