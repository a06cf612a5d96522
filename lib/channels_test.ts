/** The channels written once in code are the ones every `channel` CHECK lists. */
import assert from "node:assert/strict";
import { CHANNELS } from "./channels.ts";

/** Tables whose channel is a vocabulary of their own, tested beside it. */
const OWN_VOCABULARY = new Set([
  // lib/grievances/model.ts CHANNELS: where a report came in (model_test.ts).
  "grievances",
]);

/**
 * The channel CHECK of each table as the migrations leave it: the last `check (channel in …)`
 * written under a `create table` or `alter table` of that table, in file order.
 */
async function latestChannelChecks(): Promise<Map<string, { file: string; values: string[] }>> {
  const dir = new URL("../migrations/", import.meta.url);
  const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".sql"))
    .sort();
  const latest = new Map<string, { file: string; values: string[] }>();
  for (const file of files) {
    const sql = await Deno.readTextFile(new URL(file, dir));
    const tables = [...sql.matchAll(/(?:create|alter) table (\w+)/g)];
    for (const m of sql.matchAll(/check \(channel in \(([^)]*)\)\)/g)) {
      const table = tables.filter((t) => t.index! < m.index!).at(-1)?.[1];
      assert.ok(table, `${file}: a channel CHECK outside any table`);
      latest.set(table, { file, values: [...m[1].matchAll(/'([^']+)'/g)].map((x) => x[1]) });
    }
  }
  return latest;
}

Deno.test("every channel CHECK in the migrations lists CHANNELS", async () => {
  const latest = await latestChannelChecks();
  for (const table of ["conversations", "messages", "payments"]) {
    assert.ok(latest.has(table), `${table} checks its channel`);
  }
  for (const [table, check] of latest) {
    if (OWN_VOCABULARY.has(table)) continue;
    assert.deepEqual([...check.values].sort(), [...CHANNELS].sort(), `${table} (${check.file})`);
  }
});
