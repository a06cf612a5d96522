/** The vocabularies written once in code are the ones the database's CHECKs list. */
import assert from "node:assert/strict";
import { API_KEY_SCOPES } from "../accounts/scopes.ts";
import { AppError } from "../errors.ts";
import { DELIVERY_STATUSES, METHODS, PRODUCT_EVENTS, withUniqueName } from "./model.ts";
import { migrationChecks, quoted } from "../../tests/sql_checks.ts";

/** The quoted values of the first `<column> in (…)` (or `<@ array[…]`) after an anchor. */
const listed = await migrationChecks("0011_notifications.sql");

/** The product events' CHECK as the last migration that redefines it has it. */
async function latestEventCheck(): Promise<string[]> {
  const dir = new URL("../../migrations/", import.meta.url);
  const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".sql"))
    .sort();
  let found: string[] = [];
  for (const file of files) {
    const text = await Deno.readTextFile(new URL(file, dir));
    const all = [...text.matchAll(/check \(event in \(([\s\S]*?)\)\)/g)];
    if (all.length) found = quoted(all.at(-1)![1]);
  }
  return found;
}

Deno.test("methods, delivery statuses, events and scopes match the SQL CHECKs", async () => {
  assert.deepEqual(listed(/method text not null check \(method in \(([^)]*)\)/), [...METHODS]);
  assert.deepEqual(listed(/check \(status in \(([^)]*)\)\)/), [...DELIVERY_STATUSES]);
  assert.deepEqual(await latestEventCheck(), [...PRODUCT_EVENTS]);
  assert.deepEqual(listed(/scopes <@ array\[([^\]]*)\]/), [...API_KEY_SCOPES]);
});

Deno.test("a name a unique constraint refuses is a conflict on the name field; other failures pass", async () => {
  assert.equal(await withUniqueName("A topic", "ops", () => Promise.resolve(7)), 7);
  const taken = await withUniqueName(
    "A channel",
    "ops",
    () => Promise.reject(Object.assign(new Error("duplicate key"), { code: "23505" })),
  ).catch((e) => e);
  assert.ok(taken instanceof AppError);
  assert.equal(taken.code, "conflict");
  assert.equal(taken.message, 'A channel named "ops" already exists.');
  assert.deepEqual(taken.details, { field: "name" });
  const other = new Error("connection lost");
  await assert.rejects(withUniqueName("A topic", "ops", () => Promise.reject(other)), other);
});
