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
  /** A fake's address and token in place of the configured ones, said in the log. */
  const useFake = (fake: { url: string; token: string; close(): Promise<void> }, says: string) => {
    closers.push(() => fake.close());
    log.warn(`sandbox: ${says} (see /_fake/messages)`, { url: fake.url });
    return { apiUrl: fake.url, token: fake.token };
  };
  if (config.sandboxed.includes("slack")) {
    slack = useFake(
      await startFakeSlack({
        onMessage: (m) => log.info("sandbox Slack message received", { channel: m.channel }),
      }),
      "Slack notifications go to the built-in Slack",
    );
  }
  if (config.sandboxed.includes("telegram")) {
    telegram = useFake(
      await startFakeTelegram({
        onMessage: (m) => log.info("sandbox Telegram message received", { chatId: m.chatId }),
      }),
      "Telegram messages go to the built-in Bot API",
    );
  }
  return {
    slack,
    telegram,
    async close() {
      for (const close of closers.reverse()) await close();
    },
  };
}
