import assert from "node:assert/strict";
import { whileRenewing } from "./lease.ts";
import { startReconciler } from "./reconciler.ts";
import { memoryLogger } from "../observability/log.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("a lease is renewed while its work runs, and no longer once it is done", async () => {
  let renewals = 0;
  const log = memoryLogger("debug");
  const result = await whileRenewing(
    () => (renewals++, Promise.resolve(renewals < 3)),
    async () => (await sleep(230), "done"),
    { everyMs: 50, log, what: "test.work" },
  );
  assert.equal(result, "done");
  assert.ok(renewals >= 3 && renewals <= 4, `${renewals} renewals in 230 ms at one per 50 ms`);
  // The third renewal found the lease lost: said, and the work went on.
  assert.ok(log.lines.some((l) => /lease lost while working/.test(l) && /test\.work/.test(l)));
  const after = renewals;
  await sleep(120);
  assert.equal(renewals, after, "no renewal after the work");
  // Work that fails stops the renewals too, and its error comes through.
  await assert.rejects(
    whileRenewing(() => Promise.resolve(true), () => Promise.reject(new Error("boom")), {
      everyMs: 10,
    }),
    /boom/,
  );
});

Deno.test("the reconciler ticks at random intervals within its bounds until stopped", async () => {
  const at: number[] = [];
  const tick = startReconciler(
    { reconcile: () => (at.push(performance.now()), Promise.resolve(0)) },
    memoryLogger("warn"),
    { min: 20, max: 40 },
  );
  await sleep(300);
  await tick.stop();
  const count = at.length;
  assert.ok(count >= 5, `${count} sweeps in 300 ms`);
  const gaps = at.slice(1).map((t, i) => t - at[i]);
  assert.ok(gaps.every((g) => g >= 19), `gaps ${gaps.map(Math.round)}`);
  await sleep(100);
  assert.equal(at.length, count, "none after stop");
});
