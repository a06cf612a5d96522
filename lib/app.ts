/**
 * The object graph of one Hurukuro instance, built in dependency order: config → database → KV →
 * event hub → job queue → domain services (chat, payments, notifications, bots, grievances) →
 * channels. Each piece is built from the ones above it and owns its state; domains react to each
 * other through the event hub, never through callbacks set after construction.
 *
 * No HTTP and no job handlers here (`lib/` imports neither `routes/` nor `jobs/`): the caller
 * (main.ts) registers the handlers once the services they use exist, starts the work, serves the
 * routes, and stops everything in order with {@link App.stop}.
 *
 * A new domain is one block below: built with `createX({ ... })` from what is above it, added to
 * {@link Services}, and, if it reacts to other domains, one `events.observe` line.
 */
import { join } from "node:path";
import { ensureAdmin, ensureDevelopmentAdmin } from "./accounts/users.ts";
import { createKnowledge } from "./bots/knowledge.ts";
import { type Bots, createBots } from "./bots/mod.ts";
import { type ChatServices, createChat } from "./chat/answer.ts";
import { seedDefaultConfig } from "./chat/configs.ts";
import { closeInterruptedAnswers } from "./chat/conversations.ts";
import { answerOnce, resetConversation } from "./chat/mod.ts";
import type { Config } from "./config.ts";
import { type Database, openDatabase } from "./db/mod.ts";
import { migrate, MIGRATIONS_DIR } from "./db/migrate.ts";
import { type EventHub, startEventHub } from "./events.ts";
import { createInstances, type Instances } from "./instances.ts";
import { aiUpstreams } from "./grievances/ai.ts";
import { createGrievances, type Grievances, grievanceSealer } from "./grievances/mod.ts";
import type { QueueStats } from "./health.ts";
import { CronScheduler } from "./jobs/cron.ts";
import { countDeadLetters } from "./jobs/dead_letters.ts";
import { JobQueue, type ReconcilerState } from "./jobs/queue.ts";
import { type ReconcilerTick, startReconciler } from "./jobs/reconciler.ts";
import type { Lane } from "./jobs/types.ts";
import { openKv } from "./kv/mod.ts";
import { createNotifications, type Notifications } from "./notifications/mod.ts";
import type { Logger } from "./observability/log.ts";
import { type AppMetrics, createMetrics } from "./observability/metrics.ts";
import { createPayments, type Payments } from "./payments/model.ts";
import { createRateLimiter, type RateLimiter } from "./ratelimit.ts";
import { startUpstreams, type UpstreamServices } from "./sandbox/mod.ts";
import { createWhatsAppSimulator, type WhatsAppSimulator } from "./sandbox/whatsapp_simulator.ts";
import { refreshAhead } from "./cache.ts";
import { localFileStore } from "./storage/files.ts";
import {
  type ChannelDeps,
  createWhatsAppChannel,
  reactToEvent,
  sendPhoneCode,
} from "./whatsapp/channel.ts";
import { WebhookReceiver } from "./whatsapp/inbound.ts";
import { whatsappReplyJob } from "./whatsapp/jobs.ts";
import { countUnanswered } from "./whatsapp/webhook_log.ts";
import { createTelegramChannel, type TelegramChannel } from "./telegram/mod.ts";

export interface AppOptions {
  log: Logger;
  /** How long a graceful stop waits for running schedules, requests and jobs. */
  graceMs: number;
  /** Overrides where the embedded database lives; `null` runs it in memory. */
  embeddedDir?: string | null;
  /** Overrides the KV path; `null` runs KV in memory. */
  kvPath?: string | null;
  migrationsDir?: string;
  /** Per-lane concurrency overrides for the job queue. */
  concurrency?: Partial<Record<Lane, number>>;
  /**
   * Runs on this open database instead of opening one, and leaves it open at shutdown: a second
   * instance in tests, on the embedded database that only one process may open.
   */
  database?: Database;
  /** The version this instance runs (shown beside it among the live instances). */
  version?: string;
}

/** Everything one instance is made of; what the routes and the job handlers are given. */
export interface Services {
  /** The admin a development start created (no ADMIN_EMAIL, no admin yet), for the banner. */
  firstAdmin: { email: string; password: string } | null;
  config: Config;
  log: Logger;
  db: Database;
  kv: Deno.Kv;
  /** The live instances on this database, this one among them (lib/instances.ts). */
  instances: Instances;
  events: EventHub;
  metrics: AppMetrics;
  /** The job queue: handlers are registered on it before `start`. */
  queue: JobQueue;
  /** The schedules: registered on it before `start`. */
  scheduler: CronScheduler;
  /** The upstream services: configured, or the sandbox's fakes. */
  upstreams: UpstreamServices;
  rateLimiter: RateLimiter;
  chat: ChatServices;
  payments: Payments;
  notifications: Notifications;
  /** Bots with their own knowledge; their jobs share its embedder, files and vector cache. */
  bots: Bots;
  /** Grievances: intake (web, API, WhatsApp), classification, the officers' queue. */
  grievances: Grievances;
  /** The WhatsApp webhooks (inbound messages). */
  webhooks: WebhookReceiver;
  /** The WhatsApp channel; null when WhatsApp is not configured. */
  whatsapp: ChannelDeps | null;
  /** The Telegram chat channel; null when TELEGRAM_WEBHOOK_SECRET is not set. */
  telegram: TelegramChannel | null;
  /** The admin's WhatsApp simulator (/admin/simulator); null unless WhatsApp is sandboxed. */
  whatsappSimulator: WhatsAppSimulator | null;
  queueStats(): Promise<QueueStats>;
  /** How the job reconciler's last runs went (/health). */
  reconciler(): ReconcilerState;
  /** Sends a phone-linking code to a WhatsApp number. */
  sendPhoneCode(phoneE164: string, code: string): Promise<void>;
}

export interface App extends Services {
  /**
   * Starts the work: this instance's heartbeat, jobs, the re-queueing of lost work, and (with
   * `cron`) the schedules and the reconciler's tick.
   */
  start(options: { cron: boolean }): Promise<void>;
  /**
   * Stops in order: schedules, answers still streaming (billed for what they generated, so their
   * readers end), then `drainServer` (the caller's HTTP server, given the grace period to finish
   * its requests), then running jobs, then this instance's heartbeat (the others take its
   * share), the event hub, upstreams, KV and database. Safe to
   * call after a failed start; the first call's promise is every call's.
   */
  stop(drainServer?: () => Promise<void>): Promise<void>;
}

export async function buildApp(config: Config, options: AppOptions): Promise<App> {
  const { log } = options;
  const grace = options.graceMs;
  // Closed in reverse order if the build fails, and by `stop` after the running work.
  const closers: (() => Promise<void> | void)[] = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await Promise.resolve(close()).catch(() => {});
  };
  try {
    // ---- storage ----------------------------------------------------------------------------
    const db = options.database ?? await openDatabase({
      databaseUrl: config.databaseUrl,
      max: config.databasePoolSize,
      embeddedDir: options.embeddedDir === undefined
        ? join(config.dataDir, "pg")
        : options.embeddedDir,
      log,
    });
    if (!options.database) closers.push(() => db.close());
    const applied = await migrate(db.sql, options.migrationsDir ?? MIGRATIONS_DIR);
    if (applied.length > 0) log.info("migrations applied", { versions: applied });
    // Refused before anything runs: an instance counting days in another time zone would run
    // the daily schedules a second time.
    const instances = createInstances({ db, log, config, version: options.version ?? "dev" });
    await instances.assertSameTimeZone();
    closers.push(() => instances.stop());
    const kv = await openKv(options.kvPath === undefined ? config.kvPath : options.kvPath);
    closers.push(() => kv.close());

    // ---- first start, upstreams -------------------------------------------------------------
    let firstAdmin: Services["firstAdmin"] = null;
    if (config.admin) {
      const admin = await ensureAdmin(db.sql, config.admin);
      if (admin === "created") {
        log.info("first admin account created", { email: config.admin.email });
      }
    } else if (config.env === "development") {
      // A fresh clone opens /admin at once: the password is shown once, by the start banner.
      firstAdmin = await ensureDevelopmentAdmin(db.sql);
      if (firstAdmin) log.info("development admin account created", { email: firstAdmin.email });
    }
    const upstreams = await startUpstreams(config, log);
    closers.push(() => upstreams.close());
    await seedDefaultConfig(db.sql, config, upstreams.ai);
    const interrupted = await closeInterruptedAnswers(db.sql);
    if (interrupted > 0) log.warn("answers interrupted by a stop marked failed", { interrupted });

    // ---- events and jobs --------------------------------------------------------------------
    const events = await startEventHub(db, log);
    closers.push(() => events.close());
    const metrics = createMetrics();
    const queue = new JobQueue({
      kv,
      db,
      log,
      config,
      metrics: metrics.jobs,
      concurrency: { replies: config.whatsapp.replyConcurrency, ...options.concurrency },
    });
    const scheduler = new CronScheduler({
      db,
      log,
      context: queue.context,
      defaultTimeZone: config.tzMetrics,
    });
    // Counted in memory at this instance's share of each limit (lib/instances.ts).
    const rateLimiter = createRateLimiter({ shareOf: (limit) => instances.shareOf(limit) });

    // ---- domains ----------------------------------------------------------------------------
    const chat = createChat({ db, kv, log, config, jobs: queue });
    closers.push(() => chat.runtime.answerEvents.close());
    const payments = createPayments({
      db,
      jobs: queue,
      log,
      paynow: upstreams.paynow,
      publicUrl: () => config.publicUrl,
    });
    const notifications = createNotifications({
      db,
      log,
      config,
      mailer: upstreams.mailer,
      slack: upstreams.slack,
      telegram: upstreams.telegram,
      whatsapp: upstreams.whatsapp?.provider ?? null,
    });
    // Product events (payments, dead letters, sign-ups, AI failures) reach the topics they are
    // routed to.
    events.observe((event) => void notifications.events.react(queue, event));
    const bots = createBots({
      db,
      log,
      config,
      jobs: queue,
      chat,
      knowledge: await createKnowledge({ db, config, log }),
    });
    // Personal data sealed at rest; attachments under UPLOADS_DIR; classified by the default AI
    // configuration's upstream.
    const grievances = createGrievances({
      db,
      log,
      config,
      sealer: await grievanceSealer(config),
      files: localFileStore(config.uploadsDir),
      ai: aiUpstreams(db.sql, config),
      whatsapp: upstreams.whatsapp?.provider ?? null,
    });

    // ---- channels ---------------------------------------------------------------------------
    const webhooks = new WebhookReceiver({
      db,
      log,
      provider: upstreams.whatsapp?.provider ?? null,
      verifyToken: upstreams.whatsapp?.verifyToken,
      publicUrl: () => config.publicUrl,
      quarantined: metrics.whatsapp.quarantined,
      backlog: config.whatsapp.webhookBacklog,
      unanswered: {
        limit: config.whatsapp.unansweredLimit,
        // Counted again every half second or so, off the request's path (lib/cache.ts).
        count: refreshAhead(() => countUnanswered(db.sql), 1_000).get,
      },
      enqueueReplies: async (phones) => {
        await queue.enqueueMany(whatsappReplyJob, phones.map((phone) => ({ payload: { phone } })));
      },
    });
    const whatsapp = upstreams.whatsapp
      ? createWhatsAppChannel({
        db,
        log,
        config,
        provider: upstreams.whatsapp.provider,
        jobs: queue,
        payments,
        // Each instance sends at its share of WHATSAPP_SEND_RATE.
        instances,
        // Webhook writes go first: they are what the provider waits on.
        ingestIdle: () => webhooks.idle(),
        // "Report a problem" files a grievance.
        grievances: grievances.whatsapp(queue),
        chat: {
          answerOnce: (input) => answerOnce(chat, input),
          resetConversation: (userId, on) => resetConversation(chat, userId, on),
        },
      })
      : null;
    // Deliveries as a user of the sandboxed WhatsApp, through the same intake as Meta's.
    const whatsappSimulator = upstreams.whatsappSandbox
      ? createWhatsAppSimulator({
        sandbox: upstreams.whatsappSandbox,
        sql: db.sql,
        receive: (request) => webhooks.receive(request),
      })
      : null;
    // A settled payment is told to the payer on WhatsApp ("Payment received…").
    if (whatsapp) events.observe((event) => void reactToEvent(whatsapp, event));
    // Telegram: the same assistant and wallet for a chat linked to an account.
    const telegram = createTelegramChannel({
      db,
      kv,
      log,
      config,
      jobs: queue,
      payments,
      rateLimiter,
      api: upstreams.telegram,
      chat: {
        answerOnce: (input) => answerOnce(chat, input),
        resetConversation: (userId, on) => resetConversation(chat, userId, on),
      },
    });

    // ---- what the web layer reads -----------------------------------------------------------
    metrics.gauge(
      "hurukuro_chat_streams_generating",
      "Streamed answers (web and API) this process is generating",
      () => chat.runtime.streams.active,
    );
    metrics.gauge(
      "hurukuro_event_streams_open",
      "Live event streams (GET /api/v1/events) this process holds open",
      () => events.size,
    );

    let stopping: Promise<void> | undefined;
    let reconciling: ReconcilerTick | undefined;
    return {
      firstAdmin,
      config,
      log,
      db,
      kv,
      instances,
      events,
      metrics,
      queue,
      scheduler,
      upstreams,
      rateLimiter,
      chat,
      payments,
      notifications,
      bots,
      grievances,
      webhooks,
      whatsapp,
      telegram,
      whatsappSimulator,
      queueStats: async () => ({
        backlog: await queue.backlog(),
        inFlight: queue.inFlight,
        deadLetters: await countDeadLetters(db),
      }),
      reconciler: () => queue.reconciler,
      sendPhoneCode(phone, code) {
        if (whatsapp) return sendPhoneCode(whatsapp, phone, code);
        log.warn("phone-link code created but WhatsApp is not configured", { phone });
        return Promise.resolve();
      },
      async start({ cron }) {
        // Registered first: the shares of the limits count this instance from its first job.
        await instances.start();
        queue.start();
        // Work recorded in Postgres whose message was lost (KV file gone, process killed) is
        // queued again at once rather than at the reconciler's next tick.
        const requeued = await queue.reconcile();
        if (requeued > 0) log.warn("overdue work re-queued at start", { count: requeued });
        if (cron) {
          scheduler.start();
          // Lost work (a dead instance's) is looked for every 10–15 s, not every minute.
          reconciling = startReconciler(queue, log);
        }
      },
      stop: (drainServer) =>
        stopping ??= (async () => {
          const deadline = Date.now() + grace;
          await scheduler.stop(grace);
          await reconciling?.stop();
          // The server stops accepting and finishes its requests, and the answers being written
          // finish (their readers get the end), all within the grace period; what is still
          // running then is stopped and billed for what was generated.
          const streams = chat.runtime.streams;
          let timer: ReturnType<typeof setTimeout> | undefined;
          await Promise.race([
            Promise.all([drainServer?.(), streams.settled(Math.max(0, deadline - Date.now()))]),
            new Promise((resolve) =>
              timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))
            ),
          ]);
          clearTimeout(timer);
          streams.abortAll();
          // A stopped answer settles its bill in moments: before the database closes.
          await streams.settled(2_000);
          await queue.stop(grace);
          await closeAll();
          log.info("stopped");
        })(),
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
