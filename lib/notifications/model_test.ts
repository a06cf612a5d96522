/** The vocabularies written once in code are the ones the database's CHECKs list. */
import assert from "node:assert/strict";
import { API_KEY_SCOPES } from "../accounts/scopes.ts";
import { DELIVERY_STATUSES, METHODS, PRODUCT_EVENTS } from "./model.ts";

const migration = await Deno.readTextFile(
  new URL("../../migrations/0011_notifications.sql", import.meta.url),
);

/** The quoted values of the first `<column> in (…)` (or `<@ array[…]`) after `anchor`. */
function listed(anchor: RegExp): string[] {
  const m = migration.match(anchor);
  assert.ok(m, `no ${anchor} in the migration`);
  return [...m[1].matchAll(/'([^']+)'/g)].map((x) => x[1]);
}

Deno.test("methods, delivery statuses, events and scopes match the SQL CHECKs", () => {
  assert.deepEqual(listed(/method text not null check \(method in \(([^)]*)\)/), [...METHODS]);
  assert.deepEqual(listed(/check \(status in \(([^)]*)\)\)/), [...DELIVERY_STATUSES]);
  assert.deepEqual(listed(/check \(event in \(([\s\S]*?)\)\)/), [...PRODUCT_EVENTS]);
  assert.deepEqual(listed(/scopes <@ array\[([^\]]*)\]/), [...API_KEY_SCOPES]);
});
