/**
 * What the operator commands in `tasks/` share: they open the database the server would open,
 * and they end with an exit code, a configuration problem said in one sentence (exit 78,
 * EX_CONFIG) rather than as a stack trace.
 */
import { join } from "node:path";
import { type Config, ConfigError } from "../lib/config.ts";
import { DataDirInUseError } from "../lib/db/embedded.ts";
import { type Database, openDatabase } from "../lib/db/mod.ts";
import type { Logger } from "../lib/observability/log.ts";

/** The configured database: `DATABASE_URL`, else the embedded one in `DATA_DIR/pg`. */
export function openConfiguredDatabase(config: Config, log: Logger): Promise<Database> {
  return openDatabase({
    databaseUrl: config.databaseUrl,
    embeddedDir: join(config.dataDir, "pg"),
    log,
  });
}

/**
 * Runs `main` and exits with its code. `explain` may turn another error into a sentence and a
 * code (e.g. bad JSON in an argument); anything else is a bug and keeps its stack trace.
 */
export async function runTask(
  main: () => Promise<number>,
  explain: (error: unknown) => { message: string; code: number } | null = () => null,
): Promise<never> {
  try {
    Deno.exit(await main());
  } catch (error) {
    const known = error instanceof ConfigError || error instanceof DataDirInUseError
      ? { message: error.message, code: 78 }
      : explain(error);
    if (!known) throw error;
    console.error(known.message);
    Deno.exit(known.code);
  }
}
