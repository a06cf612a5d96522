import assert from "node:assert/strict";
import { withDatabase } from "../../tests/harness.ts";
import { createApiKey, resolveApiKey } from "./credentials.ts";
import { createUser } from "./users.ts";

Deno.test("an API key's use is written at most once a minute, so its reads stay reads", async () => {
  await withDatabase(async (db) => {
    const user = await createUser(db.sql, {
      email: "k@example.com",
      password: "a long passphrase",
    });
    const key = await createApiKey(db.sql, user.id, "script");
    const lastUsed = async () =>
      (await db.sql`select last_used_at from api_keys where id = ${key.id}`)[0].last_used_at;

    const resolved = await resolveApiKey(db.sql, key.key);
    assert.equal(resolved?.keyId, key.id);
    // The owner comes with the key, read in the same query.
    assert.equal(resolved?.user.id, user.id);
    assert.equal(resolved?.user.email, "k@example.com");
    assert.equal(resolved?.user.disabled, false);
    const first = await lastUsed();
    assert.ok(first, "the first use is recorded");

    // Thirty seconds ago: still within the minute, nothing is written.
    await db.sql`update api_keys set last_used_at = now() - interval '30 seconds'
                 where id = ${key.id}`;
    const recent = await lastUsed();
    await Promise.all([1, 2, 3].map(() => resolveApiKey(db.sql, key.key)));
    assert.equal((await lastUsed()).getTime(), recent.getTime());

    // Over a minute ago: the next use is recorded.
    await db.sql`update api_keys set last_used_at = now() - interval '61 seconds'
                 where id = ${key.id}`;
    const stale = await lastUsed();
    await resolveApiKey(db.sql, key.key);
    assert.ok((await lastUsed()).getTime() > stale.getTime());

    assert.equal(await resolveApiKey(db.sql, key.key + "x"), null);
  });
});
