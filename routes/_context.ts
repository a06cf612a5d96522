/**
 * What every route module receives: the app's long-lived dependencies, built once by lib/app.ts
 * (main.ts adds the job queue as `jobs` and the version).
 */
import type { Config } from "../lib/config.ts";
import type { NamedEnqueuer } from "../lib/jobs/types.ts";
import type { ReconcilerState } from "../lib/jobs/queue.ts";
import type { EventHub } from "../lib/events.ts";
import type { Payments } from "../lib/payments/model.ts";
import type { Database } from "../lib/db/mod.ts";
import type { QueueStats } from "../lib/health.ts";
import type { Logger } from "../lib/observability/log.ts";
import type { AppMetrics } from "../lib/observability/metrics.ts";
import type { WebhookReceiver } from "../lib/whatsapp/inbound.ts";
import type { Notifications } from "../lib/notifications/mod.ts";
import type { Bots } from "../lib/bots/mod.ts";
import type { Grievances } from "../lib/grievances/mod.ts";
import type { ChatServices } from "../lib/chat/mod.ts";
import type { RateLimiter } from "../lib/ratelimit.ts";
import type { TelegramChannel } from "../lib/telegram/mod.ts";
import type { Instances } from "../lib/instances.ts";
import type { UpstreamServices } from "../lib/sandbox/mod.ts";
import type { WhatsAppSimulator } from "../lib/sandbox/whatsapp_simulator.ts";

export interface AppContext {
  config: Config;
  db: Database;
  kv: Deno.Kv;
  /** The live instances on this database, this one among them. */
  instances: Instances;
  log: Logger;
  metrics: AppMetrics;
  queueStats: () => Promise<QueueStats>;
  /** How the job reconciler's last runs went (/health). */
  reconciler: () => ReconcilerState;
  /** The job queue (main.ts): typed enqueue, and by name for dead-letter retries. */
  jobs: NamedEnqueuer;
  events: EventHub;
  payments: Payments;
  /** The WhatsApp webhooks (routes/whatsapp.ts). */
  webhooks: WebhookReceiver;
  /** Sends a phone-linking code to a WhatsApp number. */
  sendPhoneCode(phoneE164: string, code: string): Promise<void>;
  version: string;
  /** Channels, topics, publishing and the delivery log (lib/notifications). */
  notifications: Notifications;
  /** The chat of this instance (lib/chat), with its live answers. */
  chat: ChatServices;
  /** Request allowances (per user, API key or address). */
  rateLimiter: RateLimiter;
  /** Bots with their own knowledge (lib/bots). */
  bots: Bots;
  /** Grievances: intake, tracking, the officers' queue (lib/grievances). */
  grievances: Grievances;
  /** The Telegram chat channel (routes/telegram.ts); null when it is off. */
  telegram: TelegramChannel | null;
  /** The upstreams' parts pages read: the sandbox's mailbox (/admin/sandbox/mail). */
  upstreams: Pick<UpstreamServices, "mailbox">;
  /** The WhatsApp simulator (/admin/simulator); null unless WhatsApp is sandboxed. */
  whatsappSimulator: WhatsAppSimulator | null;
}
