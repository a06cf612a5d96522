import assert from "node:assert/strict";
import { withDatabase } from "../../tests/harness.ts";
import { createLeases } from "./leases.ts";

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
