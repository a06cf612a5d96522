/**
 * Hurukuro's entry point: reads the configuration, builds the app (lib/app.ts), registers the jobs
 * (jobs/), serves the routes (routes/), and stops in order on SIGINT or SIGTERM. `start()` is
 * also what the tests and benches call: they run this very wiring.
 */
import type { Hono } from "hono";
import { webConfig } from "./fresh.config.ts";
import { crons, jobHandlers } from "./jobs/mod.ts";
import { type AppOptions, buildApp, type Services } from "./lib/app.ts";
import { ConfigError, loadConfig, processEnv } from "./lib/config.ts";
import { DataDirInUseError } from "./lib/db/embedded.ts";
import { buildIslands } from "./lib/islands/build.ts";
import { startBanner } from "./lib/banner.ts";
import type { CronJob, JobHandler } from "./lib/jobs/types.ts";
import { createLogger } from "./lib/observability/log.ts";
import { createApp } from "./routes/_app.tsx";
import type { AuthEnv } from "./routes/_auth.ts";

export const VERSION = "0.1.0";

export interface StartOptions extends Partial<Omit<AppOptions, "graceMs">> {
  /** Environment variables; defaults to the process environment. */
  env?: Record<string, string | undefined>;
  /** Extra job handlers and schedules (tests), added to those of jobs/mod.ts. */
  extraHandlers?: JobHandler[];
  extraCrons?: CronJob[];
  /** Register the minute tick with Deno.cron (tests call `scheduler.tick` themselves). */
  cron?: boolean;
}

export interface RunningServer extends Services {
  url: string;
  app: Hono<AuthEnv>;
  /** Stops in order (lib/app.ts `stop`), the HTTP server drained in its turn. Idempotent. */
  shutdown(): Promise<void>;
}

export async function start(options: StartOptions = {}): Promise<RunningServer> {
  const env = options.env ?? Deno.env.toObject();
  const config = await loadConfig(env);
  const log = options.log ?? createLogger({ level: config.logLevel });
  const web = webConfig(config);
  const startedAt = performance.now();
  const graceMs = web.shutdownGraceMs;
  const services = await buildApp(config, { ...options, log, graceMs, version: VERSION });
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  const stop = () => services.stop(async () => await server?.shutdown());
  try {
    services.queue.register([...jobHandlers(services), ...(options.extraHandlers ?? [])]);
    services.scheduler.register([...crons, ...(options.extraCrons ?? [])]);
    const islands = await buildIslands(web.islands);
    if (islands.built) log.info("islands built", { ms: Math.round(islands.ms) });
    await services.start({ cron: options.cron ?? true });
    const app = createApp({ ...services, jobs: services.queue, version: VERSION }, web);
    server = Deno.serve({ hostname: web.hostname, port: web.port, onListen: () => {} }, app.fetch);
    const url = `http://${server.addr.hostname}:${server.addr.port}`;
    // PORT=0 picks a free port: links we hand out (Paynow return/result URLs) need the real one.
    if (!env.PUBLIC_URL && config.port === 0) config.publicUrl = url;
    const { env: mode, sandboxed: sandbox } = config;
    const startupMs = Math.round(performance.now() - startedAt);
    log.info("listening", { url, env: mode, database: services.db.kind, sandbox, startupMs });
    return { ...services, url, app, shutdown: stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

if (import.meta.main) {
  try {
    const running = await start({ env: await processEnv() });
    console.log(startBanner(running));
    const stop = () => void running.shutdown().then(() => Deno.exit(0));
    for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop);
  } catch (error) {
    if (!(error instanceof ConfigError || error instanceof DataDirInUseError)) throw error;
    console.error(error.message);
    Deno.exit(78); // EX_CONFIG
  }
}
