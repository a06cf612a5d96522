import assert from "node:assert/strict";
import { Pacer } from "./outbox.ts";

Deno.test("each instance paces at its share of the send rate, following instances as they come and go", () => {
  const live = { n: 2 };
  const pacer = new Pacer(20, 250, () => live.n);
  assert.equal(pacer.interval, 100, "20 a second shared by two: one every 100 ms each");
  live.n = 1;
  assert.equal(pacer.interval, 50);
  live.n = 3;
  assert.ok(Math.abs(pacer.interval * 20 / 3 - 1000) < 1e-9, "the shares add up to the rate");
});

Deno.test("the gap to one user holds after a send by another instance", async () => {
  const pacer = new Pacer(1000, 250);
  // The lease says the phone was sent to 100 ms ago (elsewhere): 150 ms are left to wait.
  pacer.sentBefore("+263771111111", 100);
  const wait = await pacer.wait("+263771111111", 100);
  assert.ok(wait > 140 && wait <= 150, `waits ${wait} ms`);
  // Another phone goes at once.
  assert.equal(await pacer.wait("+263772222222", 100), 0);
  // An older send than the pacer's own record changes nothing.
  pacer.sentBefore("+263772222222", 10_000);
  assert.ok((await pacer.wait("+263772222222", 100)) > 240);
});
