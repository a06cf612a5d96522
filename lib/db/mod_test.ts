import assert from "node:assert/strict";
import { freshDatabase } from "../../tests/harness.ts";
import type { Database } from "./mod.ts";

Deno.test("tryWithLock excludes a second holder of the same name, not of another", async () => {
  const { db, close } = await freshDatabase();
  try {
    let release!: () => void;
    const held = new Promise<void>((r) => release = r);
    const first = db.tryWithLock("cron:demo", () => held.then(() => "first"));
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await db.tryWithLock("cron:demo", () => Promise.resolve("second")), {
      ran: false,
    });
    assert.deepEqual(await db.tryWithLock("cron:other", () => Promise.resolve(1)), {
      ran: true,
      value: 1,
    });
    release();
    assert.deepEqual(await first, { ran: true, value: "first" });
    // Released: the name can be taken again.
    assert.deepEqual(await db.tryWithLock("cron:demo", () => Promise.resolve(2)), {
      ran: true,
      value: 2,
    });
  } finally {
    await close();
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A listener of `channel`: what it heard, and `stopAfter`, which gives it up to a second to
 * hear `count` payloads, then unlistens. */
async function listener(db: Database, channel: string) {
  const heard: string[] = [];
  const unlisten = await db.listen(channel, (p) => heard.push(p));
  return {
    heard,
    async stopAfter(count: number) {
      for (let i = 0; i < 50 && heard.length < count; i++) await sleep(20);
      await unlisten();
    },
  };
}

Deno.test("notify reaches listeners of the channel until they unlisten", async () => {
  await using fresh = await freshDatabase();
  const { db } = fresh;
  const wallet = await listener(db, "wallet_updated");
  await db.notify("wallet_updated", "u1");
  await db.notify("other", "x");
  await wallet.stopAfter(1);
  await db.notify("wallet_updated", "u2");
  await sleep(100);
  assert.deepEqual(wallet.heard, ["u1"]);
});

Deno.test("several payloads of one notify reach listeners in order, a repeat once", async () => {
  await using fresh = await freshDatabase();
  const events = await listener(fresh.db, "events");
  await fresh.db.notify("events", "a", "b", "a", "c");
  await fresh.db.notify("events");
  await events.stopAfter(3);
  assert.deepEqual(events.heard, ["a", "b", "c"]);
});

Deno.test("ping answers true while up and false once closed", async () => {
  const { db, close } = await freshDatabase();
  assert.equal(await db.ping(), true);
  await close();
  assert.equal(await db.ping(500), false);
});

Deno.test({
  name: "server sessions are set to end a transaction left idle for a minute",
  ignore: !Deno.env.get("DATABASE_URL"), // the embedded database is one session of this process
  async fn() {
    const { db, close } = await freshDatabase();
    try {
      const setting = (sql: typeof db.sql) =>
        sql`select current_setting('idle_in_transaction_session_timeout') as v`;
      assert.equal((await setting(db.sql))[0].v, "1min");
      const [{ v }] = await db.sql.begin((tx) => setting(tx as never));
      assert.equal(v, "1min");
    } finally {
      await close();
    }
  },
});
