/**
 * `deno task grievances:rekey`: after a key rotation, re-seals every grievance whose personal
 * data is still sealed under the previous key (ENCRYPTION_KEY_PREVIOUS) under the current one
 * (ENCRYPTION_KEY), and recomputes its blind indexes. Safe to run while the app serves (each
 * grievance is re-sealed in its own transaction, under its row lock) and to run again.
 * docs/grievances.md, "Key rotation".
 */
import { loadConfig } from "../lib/config.ts";
import { grievanceSealer } from "../lib/grievances/mod.ts";
import { rekeyGrievance, staleGrievances } from "../lib/grievances/rekey.ts";
import { createLogger } from "../lib/observability/log.ts";
import { openConfiguredDatabase, runTask } from "./_task.ts";

await runTask(async () => {
  const config = await loadConfig(Deno.env.toObject());
  if (!config.grievances.previousEncryptionKey) {
    console.error(
      "Set ENCRYPTION_KEY_PREVIOUS to the key being retired (and ENCRYPTION_KEY to the new one).",
    );
    return 2;
  }
  const db = await openConfiguredDatabase(config, createLogger({ level: "info" }));
  try {
    const sealer = await grievanceSealer(config);
    let done = 0;
    for (;;) {
      const ids = await staleGrievances(db.sql, sealer.keyId);
      if (ids.length === 0) break;
      for (const id of ids) if (await rekeyGrievance(db.sql, sealer, id)) done++;
    }
    console.log(`${done} grievance${done === 1 ? "" : "s"} re-sealed under key ${sealer.keyId}.`);
  } finally {
    await db.close();
  }
  return 0;
});
