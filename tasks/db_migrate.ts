/** `deno task db:migrate`: applies pending migrations to the configured database and exits. */
import { loadConfig } from "../lib/config.ts";
import { migrate } from "../lib/db/migrate.ts";
import { createLogger } from "../lib/observability/log.ts";
import { openConfiguredDatabase, runTask } from "./_task.ts";

await runTask(async () => {
  const config = await loadConfig(Deno.env.toObject());
  const db = await openConfiguredDatabase(config, createLogger({ level: config.logLevel }));
  try {
    const applied = await migrate(db.sql);
    console.log(applied.length ? `applied ${applied.join(", ")}` : "already up to date");
  } finally {
    await db.close();
  }
  return 0;
});
