import assert from "node:assert/strict";
import { withDatabase } from "../tests/harness.ts";
import { ConfigError } from "./config.ts";
import { createInstances, DEAD_AFTER_MS } from "./instances.ts";
import type { Database } from "./db/mod.ts";
import { memoryLogger } from "./observability/log.ts";

const log = memoryLogger("warn");
const instance = (db: Database, tzMetrics = "Africa/Harare") =>
  createInstances({ db, log, config: { tzMetrics }, version: "test", heartbeatMs: 60_000 });

Deno.test("instances see each other; limits are shared out exactly; the dead and the stopped drop out", async () => {
  await withDatabase(async (db) => {
    const a = instance(db);
    const b = instance(db);
    await a.start();
    await b.start();
    try {
      await a.beat();
      if (db.kind === "embedded") {
        // One process owns the embedded database: whatever the table says, it is alone.
        assert.equal(a.count(), 1);
        assert.equal(a.shareOf(20), 20);
        return;
      }
      assert.deepEqual(a.live().map((i) => i.id), [a.id, b.id].sort());
      assert.equal(a.count(), 2);
      assert.equal(b.count(), 2);
      assert.equal(a.shareOf(20) + b.shareOf(20), 20);
      assert.equal(a.shareOf(20), 10);
      assert.equal(a.shareOf(21) + b.shareOf(21), 21, "the remainder goes to one of them");
      assert.deepEqual([a.shareOf(1), b.shareOf(1)], [1, 1], "each serves at least one");

      // b stops beating (killed): once DEAD_AFTER_MS has passed, a has the whole.
      await db.sql`update app_instances
                   set last_seen_at = now() - ${DEAD_AFTER_MS + 1_000} * interval '1 millisecond'
                   where id = ${b.id}`;
      await a.beat();
      assert.equal(a.count(), 1);
      assert.equal(a.shareOf(20), 20);

      // b comes back, then stops gracefully: its row goes at once.
      await b.beat();
      await a.beat();
      assert.equal(a.count(), 2);
      await b.stop();
      await a.beat();
      assert.deepEqual(a.live().map((i) => i.id), [a.id]);
    } finally {
      await b.stop();
      await a.stop();
    }
    const left = await db.sql`select id from app_instances`;
    assert.equal(left.length, 0, "stopped ones leave no row");
  });
});

Deno.test("a TZ_METRICS other than the live instances' is refused at start, naming both", async () => {
  await withDatabase(async (db) => {
    const harare = instance(db, "Africa/Harare");
    await harare.start();
    try {
      const utc = instance(db, "UTC");
      if (db.kind === "embedded") {
        // No other process can share the embedded database: nothing to agree with.
        await utc.assertSameTimeZone();
        return;
      }
      await assert.rejects(
        utc.assertSameTimeZone(),
        (e) =>
          e instanceof ConfigError && /TZ_METRICS: this instance would count days in UTC/.test(
            e.message,
          ) && /counts them in Africa\/Harare/.test(e.message),
      );
      await instance(db, "Africa/Harare").assertSameTimeZone();
      // A dead instance with another time zone does not hold the new one back.
      await db.sql`update app_instances set last_seen_at = now() - interval '1 minute'`;
      await utc.assertSameTimeZone();
    } finally {
      await harare.stop();
    }
  });
});
