import assert from "node:assert/strict";
import { Pacer } from "./outbox.ts";

Deno.test("each instance paces at its share of the send rate, following instances as they come and go", () => {
  const live = { n: 2 };
  const pacer = new Pacer(20, 250, () => live.n);
  // 20 a second shared by two: one every 100 ms each (and 1 % to spare).
  assert.equal(Math.round(pacer.interval), 101);
  live.n = 1;
  assert.equal(Math.round(pacer.interval), 51);
  live.n = 3;
  const perSecond = 3 * 1000 / pacer.interval;
  assert.ok(perSecond < 20 && perSecond > 19.7, "the shares add up to the rate, less 1 %");
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

Deno.test("a send woken late pushes the next ones back instead of letting them go in a bunch", async () => {
  const pacer = new Pacer(20); // one every 50 ms
  const went: number[] = [];
  const sends = Array.from(
    { length: 5 },
    (_, i) => pacer.wait(`+26377100000${i}`).then(() => went.push(performance.now())),
  );
  await new Promise((r) => setTimeout(r, 5));
  // The event loop is busy for 120 ms (a long statement, a GC pause) once the first has gone.
  const until = performance.now() + 120;
  while (performance.now() < until) { /* busy */ }
  await Promise.all(sends);
  const gaps = went.slice(1).map((t, i) => t - went[i]);
  assert.ok(gaps.every((g) => g >= 49), `gaps ${gaps.map(Math.round)} ms`);
});

Deno.test("one user's gap holds up only that user's send, never the others' turns", async () => {
  const pacer = new Pacer(1000, 250); // one every ~1 ms in all
  const slow = "+263773333333";
  assert.equal(await pacer.wait(slow), 0);
  // Its next message waits out the 250 ms gap; meanwhile other users' messages go.
  const started = performance.now();
  let slowWent = 0;
  const slowSend = pacer.wait(slow).then(() => slowWent = performance.now() - started);
  const others = await Promise.all(
    Array.from(
      { length: 20 },
      (_, i) =>
        pacer.wait(`+2637740000${String(i).padStart(2, "0")}`).then(() =>
          performance.now() - started
        ),
    ),
  );
  await slowSend;
  assert.ok(slowWent >= 240, `the user's own gap: ${Math.round(slowWent)} ms`);
  assert.ok(Math.max(...others) < 150, `others went after ${others.map(Math.round)} ms`);
});
