import assert from "node:assert/strict";
import { withDatabase } from "../../tests/harness.ts";
import { createLeases, pruneLeases } from "./leases.ts";

Deno.test("a phone's lease is held by one worker at a time, and a waiter is told on release", async () => {
  await withDatabase(async (db) => {
    const leases = createLeases(db);
    const first = await leases.acquire("+263771111111", "reply", 60_000);
    assert.ok(first);
    assert.equal(await leases.acquire("+263771111111", "reply", 60_000), null, "taken");
    // Another kind, another phone: their own leases.
    const send = await leases.acquire("+263771111111", "send", 60_000);
    const other = await leases.acquire("+263772222222", "reply", 60_000);
    assert.ok(send && other);
    assert.equal(await first.renew(), true);
    // Someone wanted it meanwhile: the holder is told to look for new work.
    assert.equal(await first.release(), true);
    const again = await leases.acquire("+263771111111", "reply", 60_000);
    assert.ok(again, "free once released");
    await Promise.all([again.release(), send.release(), other.release()]);
  });
});

Deno.test("on a server, an expired lease is taken over and its old holder has lost it", async () => {
  await withDatabase(async (db) => {
    if (db.kind !== "server") return; // one process owns the embedded database: no expiry
    const a = createLeases(db);
    const b = createLeases(db);
    const held = await a.acquire("+263771111111", "send", 50);
    assert.ok(held);
    assert.equal(await b.acquire("+263771111111", "send", 60_000), null);
    await new Promise((r) => setTimeout(r, 100));
    const taken = await b.acquire("+263771111111", "send", 60_000);
    assert.ok(taken, "an expired lease is free");
    assert.equal(await held.renew(), false, "the old holder lost it");
    await taken.release();
  });
});

Deno.test("a send lease tells the next holder, on any instance, when the phone was last sent to", async () => {
  await withDatabase(async (db) => {
    const a = createLeases(db);
    const b = createLeases(db);
    const first = await a.acquire("+263771111111", "send", 30_000);
    assert.ok(first);
    assert.equal(first.lastSentAgoMs, null, "never sent to");
    first.sent();
    await first.release();
    const next = await b.acquire("+263771111111", "send", 30_000);
    assert.ok(next, "free once released");
    if (db.kind === "embedded") {
      // One process: its own pacing knows the last send.
      assert.equal(next.lastSentAgoMs, null);
    } else {
      assert.ok(next.lastSentAgoMs !== null && next.lastSentAgoMs < 5_000, "just now");
    }
    await next.release();
    // Free leases long past their last send are pruned; a held one never is.
    await db.sql`update whatsapp_leases set last_sent_at = now() - interval '2 hours',
                   leased_until = now() - interval '2 hours'`;
    const held = await a.acquire("+263772222222", "send", 30_000);
    assert.equal(await pruneLeases(db), db.kind === "embedded" ? 0 : 1);
    await held?.release();
  });
});

Deno.test("a send lease records when its last send went, not when it was let go", async () => {
  await withDatabase(async (db) => {
    if (db.kind !== "server") return; // one process: its own pacing knows the last send
    const leases = createLeases(db);
    const first = await leases.acquire("+263771111111", "send", 30_000);
    assert.ok(first);
    first.sent();
    await new Promise((r) => setTimeout(r, 300));
    await first.release();
    const next = await leases.acquire("+263771111111", "send", 30_000);
    assert.ok(next);
    assert.ok(next.lastSentAgoMs !== null && next.lastSentAgoMs >= 290, `${next.lastSentAgoMs}`);
    await next.release();
    // A holder that sent nothing keeps the earlier record.
    const idle = await leases.acquire("+263771111111", "send", 30_000);
    assert.ok(idle);
    await idle.release();
    const last = await leases.acquire("+263771111111", "send", 30_000);
    assert.ok(last?.lastSentAgoMs !== null && last!.lastSentAgoMs >= 290);
    await last!.release();
  });
});
