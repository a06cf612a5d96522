/** The vocabularies written once in code are the ones migrations/0014_telegram.sql CHECKs. */
import assert from "node:assert/strict";
import { OUTBOUND_STATUSES, UPDATE_STATUSES } from "./model.ts";
import { quoted } from "../../tests/sql_checks.ts";

const migration = await Deno.readTextFile(
  new URL("../../migrations/0014_telegram.sql", import.meta.url),
);

/** The quoted values of the `status in (…)` CHECK inside `create table <table>`. */
function statusCheck(table: string): string[] {
  const body = migration.split(`create table ${table} (`)[1]?.split(");")[0];
  assert.ok(body, `no table ${table}`);
  const m = body.match(/check \(status in \(([^)]*)\)\)/);
  assert.ok(m, `no status CHECK in ${table}`);
  return quoted(m[1]);
}

Deno.test("update and outbound statuses match their CHECKs", () => {
  assert.deepEqual(statusCheck("telegram_updates"), [...UPDATE_STATUSES]);
  assert.deepEqual(statusCheck("telegram_outbound"), [...OUTBOUND_STATUSES]);
});
