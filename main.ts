/**
 * Hurukuro's entry point: wires configuration, database, KV, the island build and the routes,
 * serves HTTP, and shuts everything down in order on SIGINT/SIGTERM.
 *
 * `start()` is also what the test harness calls, so tests run the very same wiring.
 */
import { webConfig } from "./fresh.config.ts";
import { type Config, ConfigError, loadConfig } from "./lib/config.ts";
import { type Database, openDatabase } from "./lib/db/mod.ts";
import { DataDirInUseError } from "./lib/db/embedded.ts";
import { migrate, MIGRATIONS_DIR } from "./lib/db/migrate.ts";
import type { QueueStats } from "./lib/health.ts";
import { countDeadLetters } from "./lib/jobs/dead_letters.ts";
import { CronScheduler } from "./lib/jobs/cron.ts";
import { JobQueue } from "./lib/jobs/queue.ts";
import type { CronJob, JobHandler, Lane } from "./lib/jobs/types.ts";
import { crons as cronJobs, jobHandlers } from "./jobs/mod.ts";
import { startUpstreams } from "./lib/sandbox/mod.ts";
import { seedDefaultConfig } from "./lib/chat/configs.ts";
import { closeInterruptedAnswers } from "./lib/chat/conversations.ts";
import { runtimeOf } from "./lib/chat/answer.ts";
import { ensureAdmin } from "./lib/accounts/users.ts";
import { startEventHub } from "./lib/events.ts";
import { createPayments, type Payments, paymentSettledOf } from "./lib/payments/mod.ts";
import { buildIslands } from "./lib/islands/build.ts";
import { answerOnce, resetConversation } from "./lib/chat/mod.ts";
import {
  type ChannelDeps,
  createGate,
  createPacer,
  notifyPayment,
  sendPhoneCode,
} from "./lib/whatsapp/channel.ts";
import { WebhookReceiver } from "./lib/whatsapp/inbound.ts";
import { whatsappReplyJob } from "./lib/whatsapp/jobs.ts";
import { openKv } from "./lib/kv/mod.ts";
import { createLogger, type Logger } from "./lib/observability/log.ts";
import { createMetrics } from "./lib/observability/metrics.ts";
import { createApp } from "./routes/_app.tsx";
import { createNotifications, type Notifications } from "./lib/notifications/mod.ts";
import type { Hono } from "hono";
import type { AuthEnv } from "./routes/_auth.ts";
import { parse as parseDotenv } from "dotenv";
import { join } from "node:path";

export const VERSION = "0.1.0";

export interface StartOptions {
  /** Environment variables; defaults to the process environment. */
  env?: Record<string, string | undefined>;
  log?: Logger;
  /** Overrides where the embedded database lives; `null` runs it in memory. */
  embeddedDir?: string | null;
  /** Overrides the KV path; `null` runs KV in memory. */
  kvPath?: string | null;
  migrationsDir?: string;
  /** Extra job handlers and schedules (tests), added to those of jobs/mod.ts. */
  extraHandlers?: JobHandler[];
  extraCrons?: CronJob[];
  /** Per-lane concurrency overrides for the job queue. */
  concurrency?: Partial<Record<Lane, number>>;
  /** Register the minute tick with Deno.cron (tests call `scheduler.tick` themselves). */
  cron?: boolean;
  /**
   * Runs on this open database instead of opening one, and leaves it open at shutdown: a second
   * instance in tests, on the embedded database that only one process may open.
   */
  database?: Database;
}

export interface RunningServer {
  url: string;
  config: Config;
  db: Database;
  kv: Deno.Kv;
  app: Hono<AuthEnv>;
  log: Logger;
  queue: JobQueue;
  scheduler: CronScheduler;
  payments: Payments;
  notifications: Notifications;
  /** Stops accepting, finishes in-flight work, closes KV and the database. Idempotent. */
  shutdown(): Promise<void>;
  finished: Promise<void>;
}

export async function start(options: StartOptions = {}): Promise<RunningServer> {
  const env = options.env ?? Deno.env.toObject();
  const config = await loadConfig(env);
  const log = options.log ?? createLogger({ level: config.logLevel });
  const web = webConfig(config);
  const startedAt = performance.now();

  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    closers.length = 0;
  };
  try {
    const db = options.database ?? await openDatabase({
      databaseUrl: config.databaseUrl,
      embeddedDir: options.embeddedDir === undefined
        ? join(config.dataDir, "pg")
        : options.embeddedDir,
      log,
    });
    if (!options.database) closers.push(() => db.close());
    const applied = await migrate(db.sql, options.migrationsDir ?? MIGRATIONS_DIR);
    if (applied.length > 0) log.info("migrations applied", { versions: applied });

    const kv = await openKv(options.kvPath === undefined ? config.kvPath : options.kvPath);
    closers.push(() => Promise.resolve(kv.close()));

    const build = await buildIslands(web.islands);
    if (build.built) log.info("islands built", { ms: Math.round(build.ms) });

    if (config.admin) {
      const admin = await ensureAdmin(db.sql, config.admin);
      if (admin === "created") {
        log.info("first admin account created", { email: config.admin.email });
      }
    }
    const upstreams = await startUpstreams(config, log);
    closers.push(() => upstreams.close());
    await seedDefaultConfig(db.sql, config, upstreams.ai);
    const interrupted = await closeInterruptedAnswers(db.sql);
    if (interrupted > 0) log.warn("answers interrupted by a stop marked failed", { interrupted });

    const events = await startEventHub(db, log);
    closers.push(() => events.close());
    // Payments need the queue (to schedule polls) and the queue's handlers need payments.
    const late: { payments?: Payments } = {};
    const payments = () => late.payments!;
    // Likewise the WhatsApp channel (null when WhatsApp is not configured).
    let whatsapp: ChannelDeps | null = null;

    const notifications = createNotifications({
      db,
      log,
      config,
      mailer: upstreams.mailer,
      slack: upstreams.slack,
      telegram: upstreams.telegram,
      whatsapp: upstreams.whatsapp?.provider ?? null,
    });

    const metrics = createMetrics();
    metrics.gauge(
      "hurukuro_chat_streams_generating",
      "Streamed answers (web and API) this process is generating",
      () => runtimeOf({ db, kv, log, config }).streams.active,
    );
    metrics.gauge(
      "hurukuro_event_streams_open",
      "Live event streams (GET /api/v1/events) this process holds open",
      () => events.size,
    );
    const queue = new JobQueue({
      kv,
      db,
      log,
      config,
      metrics: metrics.jobs,
      handlers: [
        ...jobHandlers({
          ...upstreams,
          payments,
          whatsappChannel: () => whatsapp,
          notifications,
        }),
        ...(options.extraHandlers ?? []),
      ],
      concurrency: options.concurrency,
    });
    const scheduler = new CronScheduler({
      db,
      log,
      context: queue.context,
      crons: [...cronJobs, ...(options.extraCrons ?? [])],
      defaultTimeZone: config.tzMetrics,
    });
    const paymentDeps = createPayments({
      db,
      jobs: queue,
      log,
      paynow: upstreams.paynow,
      publicUrl: () => config.publicUrl,
    });
    late.payments = paymentDeps;
    if (upstreams.whatsapp) {
      const chat = { db, kv, log, config, jobs: queue };
      const channel: ChannelDeps = {
        db,
        kv,
        log,
        config,
        provider: upstreams.whatsapp.provider,
        jobs: queue,
        payments: paymentDeps,
        pacer: createPacer(config),
        gate: createGate(db),
        mediaDir: join(config.dataDir, "whatsapp-media"),
        // Webhook writes go first: they are what the provider waits on.
        ingestIdle: () => webhooks.idle(),
        chat: {
          answerOnce: (input) => answerOnce(chat, input),
          resetConversation: (userId, on) => resetConversation(chat, userId, on),
        },
      };
      whatsapp = channel;
      events.observe((event) => {
        const settled = paymentSettledOf(event);
        if (settled) {
          notifyPayment(channel, settled).catch((error) =>
            log.error("payment notice not queued", { paymentId: settled.id, error })
          );
        }
      });
    }
    const webhooks = new WebhookReceiver({
      db,
      log,
      provider: upstreams.whatsapp?.provider ?? null,
      verifyToken: upstreams.whatsapp?.verifyToken,
      publicUrl: () => config.publicUrl,
      enqueueReplies: async (phones) => {
        await queue.enqueueMany(whatsappReplyJob, phones.map((phone) => ({ payload: { phone } })));
      },
    });
    // Product events (payments, dead letters, sign-ups, AI failures) reach the topics they are
    // routed to.
    events.observe((event) => void notifications.events.react(queue, event));
    queue.start();
    // Work recorded in Postgres whose message was lost (KV file gone, process killed) is queued
    // again at once rather than at the reconciler's next tick.
    const requeued = await queue.reconcile();
    if (requeued > 0) log.warn("overdue work re-queued at start", { count: requeued });
    // Closed in reverse order: schedules stop, then running jobs finish, then KV closes.
    closers.push(() => queue.stop(web.shutdownGraceMs));
    if (options.cron ?? true) {
      scheduler.start();
      closers.push(() => scheduler.stop(web.shutdownGraceMs));
    }

    const queueStats = async (): Promise<QueueStats> => ({
      backlog: await queue.backlog(),
      inFlight: queue.inFlight,
      deadLetters: await countDeadLetters(db),
    });
    const app = createApp({
      config,
      db,
      kv,
      log,
      metrics,
      queueStats,
      jobs: queue,
      events,
      payments: paymentDeps,
      webhooks,
      sendPhoneCode: (phone, code) => {
        if (whatsapp) return sendPhoneCode(whatsapp, phone, code);
        log.warn("phone-link code created but WhatsApp is not configured", { phone });
        return Promise.resolve();
      },
      version: VERSION,
      notifications,
    }, { bodyLimit: web.bodyLimit });

    const server = Deno.serve(
      { hostname: web.hostname, port: web.port, onListen: () => {} },
      app.fetch,
    );
    closers.push(async () => {
      // Stops accepting and waits for in-flight requests, bounded by the grace period.
      await Promise.race([
        server.shutdown(),
        new Promise((resolve) => setTimeout(resolve, web.shutdownGraceMs)),
      ]);
    });
    // Answers still streaming stop first (billed for what they generated), so their readers
    // end and the server's drain above does not wait on them.
    closers.push(() => Promise.resolve(runtimeOf({ db, kv, log, config }).streams.abortAll()));
    const url = `http://${server.addr.hostname}:${server.addr.port}`;
    // PORT=0 picks a free port: links we hand out (Paynow return/result URLs) need the real one.
    if (!env.PUBLIC_URL && config.port === 0) {
      config.publicUrl = url;
    }
    log.info("listening", {
      url,
      env: config.env,
      database: db.kind,
      sandbox: config.sandboxed,
      startupMs: Math.round(performance.now() - startedAt),
    });

    let stopping: Promise<void> | undefined;
    return {
      url,
      config,
      db,
      kv,
      app,
      log,
      queue,
      scheduler,
      payments: paymentDeps,
      notifications,
      finished: server.finished,
      shutdown: () => stopping ??= closeAll().then(() => log.info("stopped")),
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** The process environment over the optional `.env` file (the environment wins). */
async function processEnv(): Promise<Record<string, string>> {
  try {
    return { ...parseDotenv(await Deno.readTextFile(".env")), ...Deno.env.toObject() };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return Deno.env.toObject();
    throw error;
  }
}

if (import.meta.main) {
  try {
    const running = await start({ env: await processEnv() });
    console.log(`Hurukuro is running at ${running.url}`);
    const stop = () => {
      running.shutdown().then(() => Deno.exit(0));
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof DataDirInUseError) {
      console.error(error.message);
      Deno.exit(78); // EX_CONFIG
    }
    throw error;
  }
}
