import assert from "node:assert/strict";
import { withDatabase as withDb } from "../../tests/harness.ts";
import { createUser, SIGNED_IN_USER_TTL_MS, signedInUser, updateProfile } from "./users.ts";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("a signed-in user's row is reused within the TTL, re-read after a change made here, and after the TTL", async () => {
  await withDb(async (db) => {
    const user = await createUser(db.sql, {
      email: `cached-${crypto.randomUUID()}@example.com`,
      password: "long enough",
      displayName: "Rudo",
    });
    // A long TTL here, so a slow machine cannot outlast it between two reads.
    const read = async (ttlMs = 60_000) =>
      (await signedInUser(db.sql, user.id, ttlMs))?.displayName;
    assert.equal(await read(), "Rudo");

    // Changed behind this process's back (another process): the row in hand is still used.
    await db.sql`update users set display_name = 'Elsewhere' where id = ${user.id}`;
    assert.equal(await read(), "Rudo");

    // Changed through this process: seen at the next request.
    await updateProfile(db.sql, user.id, { displayName: "Tariro" });
    assert.equal(await read(), "Tariro");

    // Another change elsewhere is seen once the TTL has passed.
    await db.sql`update users set display_name = 'Later' where id = ${user.id}`;
    await delay(SIGNED_IN_USER_TTL_MS + 50);
    assert.equal(await read(SIGNED_IN_USER_TTL_MS), "Later");
  });
});

Deno.test("an unknown user is not remembered: once the row exists it is found", async () => {
  await withDb(async (db) => {
    const id = crypto.randomUUID();
    assert.equal(await signedInUser(db.sql, id), null);
    await db
      .sql`insert into users (id, email, password_hash) values (${id}, ${`late-${id}@example.com`}, 'x')`;
    assert.equal((await signedInUser(db.sql, id))?.id, id);
    assert.equal(await signedInUser(db.sql, "not-a-uuid"), null);
  });
});
