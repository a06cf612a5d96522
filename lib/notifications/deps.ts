/** What the notifications domain is built from (createNotifications in mod.ts). */
import type { Config } from "../config.ts";
import type { Database } from "../db/mod.ts";
import type { Enqueuer } from "../jobs/types.ts";
import type { Mailer } from "../mail/send.ts";
import type { Logger } from "../observability/log.ts";
import type { Resolver, UrlPolicy } from "../security/ssrf.ts";
import type { WhatsAppProvider } from "../whatsapp/types.ts";
import type { SendServices } from "./methods/types.ts";

export interface NotificationsDeps {
  db: Database;
  log: Logger;
  config: Config;
  mailer: Mailer;
  /** Slack's API base and the app's token (SLACK_TOKEN, or the sandbox's). */
  slack: { apiUrl: string; token?: string };
  /** Telegram's API base and the app's bot token (TELEGRAM_BOT_TOKEN, or the sandbox's). */
  telegram: { apiUrl: string; token?: string };
  /** The WhatsApp provider; null when WhatsApp is not configured. */
  whatsapp: WhatsAppProvider | null;
  /** Resolves webhook host names (default DNS); tests inject one. */
  resolve?: Resolver;
  fetch?: typeof fetch;
}

/** Where webhook URLs may point: public addresses, and the allow-listed hosts outside production. */
export function urlPolicy(deps: NotificationsDeps): UrlPolicy {
  return {
    allowHosts: deps.config.privateUrlHosts,
    ...(deps.resolve ? { resolve: deps.resolve } : {}),
  };
}

/** The upstream services a method sends through, with `jobs` for follow-up work. */
export function sendServices(deps: NotificationsDeps, jobs: Enqueuer): SendServices {
  return {
    mailer: deps.mailer,
    slack: deps.slack,
    telegram: deps.telegram,
    whatsapp: deps.whatsapp
      ? {
        provider: deps.whatsapp,
        db: deps.db,
        templateLanguage: deps.config.whatsapp.templates.language,
      }
      : null,
    urlPolicy: urlPolicy(deps),
    jobs,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  };
}
