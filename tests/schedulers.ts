/**
 * Two cron schedulers on one database, as two instances run them: an app's own, and a second one
 * (instance "second") beside it. On the embedded database, which one process owns, the second
 * shares the app's database handle, exactly as two schedulers in one process would.
 */
import { prepareStorage, startTestApp, type TestApp, type TestAppOptions } from "./harness.ts";
import { CronScheduler } from "../lib/jobs/cron.ts";
import type { CronJob } from "../lib/jobs/types.ts";

export interface TwoSchedulers extends AsyncDisposable {
  /** The app, whose scheduler is `a.server.scheduler`. */
  a: TestApp;
  b: CronScheduler;
}

/** The app on fresh storage and a second scheduler of `crons`; disposing removes them all. */
export async function twoSchedulers(
  crons: CronJob[],
  defaultTimeZone: string,
  options: Omit<TestAppOptions, "storage"> = {},
): Promise<TwoSchedulers> {
  const storage = await prepareStorage();
  try {
    const a = await startTestApp({ ...options, storage });
    const db = storage.env.DATABASE_URL ? await storage.openDatabase() : a.server.db;
    const b = new CronScheduler({
      db,
      log: a.server.log,
      context: a.server.queue.context,
      crons,
      defaultTimeZone,
      instance: "second",
    });
    return {
      a,
      b,
      async [Symbol.asyncDispose]() {
        if (db !== a.server.db) await db.close();
        await a.close();
        await storage.cleanup();
      },
    };
  } catch (error) {
    await storage.cleanup();
    throw error;
  }
}
