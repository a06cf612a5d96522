import assert from "node:assert/strict";
import { withDatabase } from "../../tests/harness.ts";
import {
  beginLoginAttempt,
  clearLoginFailures,
  forgetOldLoginFailures,
  LOGIN_THROTTLE,
  windowSeconds,
} from "./login_throttle.ts";

const at = (start: Date, seconds: number) => new Date(start.getTime() + seconds * 1000);

Deno.test("the window opens at the fifth failure, doubles with each further one, up to 15 minutes", () => {
  assert.deepEqual(
    [1, 4, 5, 6, 7, 10, 11, 12, 1_000_000].map(windowSeconds),
    [0, 0, 15, 30, 60, 480, 900, 900, 900],
  );
});

Deno.test("attempts are counted per e-mail, refused inside a window, and a success starts afresh", async () => {
  await withDatabase(async (db) => {
    const sql = db.sql;
    const t0 = new Date("2026-05-01T10:00:00Z");
    for (let i = 1; i <= 5; i++) {
      assert.deepEqual(await beginLoginAttempt(sql, "Tendai@Example.com", t0), {
        allowed: true,
        failures: i,
      });
    }
    // The same address however it is written; another address is untouched.
    assert.deepEqual(await beginLoginAttempt(sql, " tendai@example.COM", at(t0, 1)), {
      allowed: false,
      retryAfterSeconds: 14,
    });
    assert.deepEqual(await beginLoginAttempt(sql, "other@example.com", t0), {
      allowed: true,
      failures: 1,
    });
    // Refusals are not counted: the sixth attempt comes when the first window ends.
    assert.deepEqual(await beginLoginAttempt(sql, "tendai@example.com", at(t0, 15)), {
      allowed: true,
      failures: 6,
    });
    assert.deepEqual(await beginLoginAttempt(sql, "tendai@example.com", at(t0, 16)), {
      allowed: false,
      retryAfterSeconds: 29,
    });
    await clearLoginFailures(sql, "TENDAI@example.com");
    assert.deepEqual(await beginLoginAttempt(sql, "tendai@example.com", at(t0, 16)), {
      allowed: true,
      failures: 1,
    });
  });
});

Deno.test("parallel guesses get exactly the free checks", async () => {
  await withDatabase(async (db) => {
    const now = new Date();
    const attempts = await Promise.all(
      Array.from({ length: 40 }, () => beginLoginAttempt(db.sql, "burst@example.com", now)),
    );
    assert.equal(attempts.filter((a) => a.allowed).length, LOGIN_THROTTLE.freeFailures);
  });
});

Deno.test("a day without attempts forgets the count; the clean-up removes such rows", async () => {
  await withDatabase(async (db) => {
    const sql = db.sql;
    const t0 = new Date("2026-05-01T10:00:00Z");
    for (let i = 0; i < 4; i++) await beginLoginAttempt(sql, "slow@example.com", t0);
    for (let i = 0; i < 4; i++) await beginLoginAttempt(sql, "stale@example.com", t0);
    assert.deepEqual(await beginLoginAttempt(sql, "stale@example.com", at(t0, 25 * 3600)), {
      allowed: true,
      failures: 1,
    });
    await beginLoginAttempt(sql, "recent@example.com", at(t0, 86_000));
    assert.equal(await forgetOldLoginFailures(sql, at(t0, 86_401)), 1);
    assert.deepEqual(await beginLoginAttempt(sql, "slow@example.com", at(t0, 86_401)), {
      allowed: true,
      failures: 1,
    });
    const [row] = await sql`select count(*)::int as n from login_throttles`;
    assert.equal(row.n, 3);
  });
});
