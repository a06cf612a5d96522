/** The channels written once in code are the ones every `channel` CHECK lists. */
import assert from "node:assert/strict";
import { CHANNELS } from "./channels.ts";

Deno.test("every channel CHECK in the migrations lists CHANNELS", async () => {
  const dir = new URL("../migrations/", import.meta.url);
  let checks = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".sql")) continue;
    const sql = await Deno.readTextFile(new URL(entry.name, dir));
    for (const m of sql.matchAll(/check \(channel in \(([^)]*)\)\)/g)) {
      checks++;
      assert.deepEqual(
        [...m[1].matchAll(/'([^']+)'/g)].map((x) => x[1]).sort(),
        [...CHANNELS].sort(),
        entry.name,
      );
    }
  }
  assert.ok(checks >= 3, "conversations, messages and payments each check their channel");
});
