/**
 * The app started inside the bench process (main.ts's `start`), its log written to a file under
 * the bench's DATA_DIR rather than the console (KV in `kv.sqlite3` there and no cron unless the
 * options say otherwise), and the warnings and errors it logs once it is up
 * kept (at most 5) for the bench to print beside its figures.
 */
import { join } from "node:path";
import { type RunningServer, start, type StartOptions } from "../main.ts";
import { createLogger } from "../lib/observability/log.ts";
import { prepareStorage, type TestStorage } from "../tests/harness.ts";
import { onCleanup } from "./_support.ts";

/**
 * A DATA_DIR (and, with DATABASE_URL set, a fresh database on that server) for one bench,
 * removed by the bench's cleanup or earlier by `remove`.
 */
export async function benchStorage(): Promise<TestStorage & { remove(): Promise<void> }> {
  const storage = await prepareStorage();
  return { ...storage, remove: onCleanup(() => storage.cleanup()) };
}

export interface BenchApp {
  running: RunningServer;
  /** Warning and error lines logged after the start (start-up notices are not the bench's). */
  problems: string[];
  /** Shuts the app down and closes its log (also run by the bench's cleanup). */
  close(): Promise<void>;
}

export async function startBenchApp(
  options: Omit<StartOptions, "log" | "env"> & {
    /** Its DATA_DIR and database ({@link benchStorage}). */
    storage: Pick<TestStorage, "dataDir" | "env">;
    logName: string;
    /** Added to the storage's environment. */
    env?: Record<string, string>;
  },
): Promise<BenchApp> {
  const { storage, logName, env, ...startOptions } = options;
  const dataDir = storage.dataDir;
  const logFile = await Deno.open(join(dataDir, logName), { create: true, append: true });
  const encoder = new TextEncoder();
  const problems: string[] = [];
  let started = false;
  const log = createLogger({
    level: "info",
    sink: (line) => {
      logFile.writeSync(encoder.encode(line + "\n"));
      if (started && !line.includes('"level":"info"') && problems.length < 5) problems.push(line);
    },
  });
  let running: RunningServer;
  try {
    running = await start({
      env: {
        HURUKURO_ENV: "test",
        HOST: "127.0.0.1",
        PORT: "0",
        LOG_LEVEL: "info",
        ...storage.env,
        ...env,
      },
      log,
      // The benches' usual: KV beside the log, and no minute tick of its own.
      kvPath: join(dataDir, "kv.sqlite3"),
      cron: false,
      ...startOptions,
    });
  } catch (error) {
    logFile.close();
    throw error;
  }
  started = true;
  const close = onCleanup(async () => {
    try {
      await running.shutdown();
    } finally {
      logFile.close();
    }
  });
  return { running, problems, close };
}
