/** `deno task db:migrate`: applies pending migrations to the configured database and exits. */
import { ConfigError, loadConfig } from "../lib/config.ts";
import { openDatabase } from "../lib/db/mod.ts";
import { migrate } from "../lib/db/migrate.ts";
import { createLogger } from "../lib/observability/log.ts";
import { join } from "node:path";

try {
  const config = await loadConfig(Deno.env.toObject());
  const log = createLogger({ level: config.logLevel });
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    embeddedDir: join(config.dataDir, "pg"),
    log,
  });
  try {
    const applied = await migrate(db.sql);
    console.log(applied.length ? `applied ${applied.join(", ")}` : "already up to date");
  } finally {
    await db.close();
  }
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  Deno.exit(78);
}
