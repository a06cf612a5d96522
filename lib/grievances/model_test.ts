/** The vocabularies written once in code are the ones the database's CHECKs list. */
import assert from "node:assert/strict";
import { ROLES } from "../accounts/users.ts";
import {
  AI_STATUSES,
  ATTACHMENT_KINDS,
  canMove,
  CHANNELS,
  formatReference,
  HISTORY_ACTIONS,
  normaliseReference,
  PRIORITIES,
  STATUSES,
  TASK_KINDS,
  TASK_STATUSES,
  TRANSITIONS,
} from "./model.ts";
import { migrationChecks } from "../../tests/sql_checks.ts";

/** The quoted values of the first CHECK list after an anchor. */
const listed = await migrationChecks("0013_grievances.sql");

Deno.test("statuses, priorities, channels, kinds, actions and roles match the SQL CHECKs", () => {
  assert.deepEqual(listed(/check \(role in \(([^)]*)\)\)/), [...ROLES]);
  assert.deepEqual(listed(/channel text not null check \(channel in \(([^)]*)\)\)/), [...CHANNELS]);
  assert.deepEqual(listed(/default 'submitted'\s+check \(status in \(([^)]*)\)\)/), [...STATUSES]);
  assert.deepEqual(listed(/default 'normal'\s+check \(priority in \(([^)]*)\)\)/), [...PRIORITIES]);
  assert.deepEqual(listed(/check \(ai_status in \(([^)]*)\)\)/), [...AI_STATUSES]);
  assert.deepEqual(
    ["image", ...listed(/kind text not null check \(kind in \('image'([^)]*)\)\)/)],
    [...ATTACHMENT_KINDS],
  );
  assert.deepEqual(listed(/check \(action in \(([\s\S]*?)\)\)/), [...HISTORY_ACTIONS]);
  assert.deepEqual(listed(/kind text not null check \(kind in \(('classify'[^)]*)\)\)/), [
    ...TASK_KINDS,
  ]);
  assert.deepEqual(listed(/default 'queued'\s+check \(status in \(([^)]*)\)\)/), [
    ...TASK_STATUSES,
  ]);
  assert.deepEqual(listed(/priority text primary key check \(priority in \(([^)]*)\)\)/), [
    ...PRIORITIES,
  ]);
});

Deno.test("the transitions: the AI classifies submitted grievances only; officers move the rest", () => {
  assert.ok(canMove("submitted", "classified", "system"));
  assert.ok(!canMove("submitted", "classified", "officer"));
  assert.ok(!canMove("in_review", "classified", "system"));
  assert.ok(canMove("classified", "in_review", "officer"));
  assert.ok(canMove("in_review", "resolved", "officer"));
  assert.ok(canMove("resolved", "in_review", "officer"), "reopened");
  assert.ok(!canMove("resolved", "rejected", "officer"));
  for (const from of STATUSES) {
    for (const to of TRANSITIONS[from]) assert.ok(STATUSES.includes(to));
    assert.ok(!TRANSITIONS[from].includes(from), `${from} → itself`);
  }
});

Deno.test("references read out and typed back", () => {
  assert.equal(formatReference(2026, 42), "GRV-2026-00042");
  assert.equal(formatReference(2026, 123456), "GRV-2026-123456");
  assert.equal(normaliseReference(" grv 2026 42 "), "GRV-2026-00042");
  assert.equal(normaliseReference("GRV-2026-00042"), "GRV-2026-00042");
  assert.equal(normaliseReference("grv202600042"), "GRV-2026-00042");
  assert.equal(normaliseReference("DROP TABLE"), null);
});
