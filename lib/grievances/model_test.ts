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
import { withDatabase } from "../../tests/harness.ts";

/** The quoted values of the first CHECK list after an anchor. */
const listed = await migrationChecks("0013_grievances.sql");
const historyStatuses = await migrationChecks("0021_grievance_history_statuses.sql");

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
  for (const column of ["from_status", "to_status"]) {
    const anchor = new RegExp(`check \\(${column} in \\(([^)]*)\\)\\)`);
    assert.deepEqual(historyStatuses(anchor), [...STATUSES], column);
  }
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

Deno.test("the database refuses a history row whose status is not a grievance's", async () => {
  await withDatabase(async (db) => {
    const [g] = await db.sql<{ id: string }[]>`
      insert into grievances (id, reference, key_id, description_sealed, channel)
      values (gen_random_uuid(), 'GRV-2026-99999', 'k1', 'x', 'web') returning id`;
    await db.sql`insert into grievance_history (grievance_id, action, from_status, to_status)
                 values (${g.id}, 'status', 'submitted', 'in_review')`;
    for (const column of ["from_status", "to_status"]) {
      await assert.rejects(
        db.sql`insert into grievance_history (grievance_id, action, ${db.sql(column)})
               values (${g.id}, 'status', 'lost')`,
        new RegExp(`grievance_history_${column}`),
      );
    }
  });
});
