/** The payment vocabularies written once in code are the ones the database's CHECKs list. */
import assert from "node:assert/strict";
import {
  CURRENCIES,
  FINAL_STATUSES,
  isFinal,
  PAYMENT_EVENT_SOURCES,
  PAYMENT_FLAGS,
  PAYMENT_METHODS,
  PAYMENT_STATUSES,
  PENDING_STATUSES,
} from "./vocabulary.ts";
import { migrationChecks } from "../../tests/sql_checks.ts";

const check = await migrationChecks("0003_payments.sql");

/** The quoted values of `check (<column> in (…))` in the migration. */
const listed = (column: string) => check(new RegExp(`check \\(${column} in \\(([^)]*)\\)\\)`));

Deno.test("statuses, methods, currencies, flags and event sources match the SQL CHECKs", () => {
  assert.deepEqual(listed("status"), [...PAYMENT_STATUSES]);
  assert.deepEqual(listed("method"), [...PAYMENT_METHODS]);
  assert.deepEqual(listed("currency"), [...CURRENCIES]);
  assert.deepEqual(listed("flag"), [...PAYMENT_FLAGS]);
  assert.deepEqual(listed("source"), [...PAYMENT_EVENT_SOURCES]);
});

Deno.test("every status is pending or final, never both", () => {
  for (const status of PAYMENT_STATUSES) {
    const pending = (PENDING_STATUSES as readonly string[]).includes(status);
    assert.notEqual(pending, isFinal(status), status);
  }
  assert.equal(PENDING_STATUSES.length + FINAL_STATUSES.length, PAYMENT_STATUSES.length);
});

Deno.test("the partial index of due polls covers exactly the pending statuses", () => {
  assert.deepEqual(
    check(/create index payments_due on payments \(next_poll_at\) where status in \(([^)]*)\)/),
    [...PENDING_STATUSES],
  );
});
