import assert from "node:assert/strict";
import { startUpstreamCall } from "./upstream.ts";
import type { StreamEvent } from "../ai/types.ts";

/** Whether `promise` has settled after the loop has had time for a few timer turns. */
async function settledSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 1));
  return settled;
}

Deno.test("an upstream call's `left` waits for its request to be handed over, then its events come in order", async () => {
  let handOver!: () => void;
  const handedOver = new Promise<void>((resolve) => handOver = resolve);
  const call = startUpstreamCall(async function* (onRequestSent) {
    await handedOver;
    onRequestSent();
    yield { type: "delta", text: "Harare" } satisfies StreamEvent;
    yield { type: "delta", text: "." } satisfies StreamEvent;
  });
  assert.equal(await settledSoon(call.left), false, "left before the request was handed over");
  handOver();
  assert.equal(await settledSoon(call.left), true);
  const texts: string[] = [];
  for await (const event of call.stream) if (event.type === "delta") texts.push(event.text);
  assert.deepEqual(texts, ["Harare", "."]);
});

Deno.test("an upstream call that fails before sending a request still lets the preparation go on", async () => {
  // deno-lint-ignore require-yield
  const call = startUpstreamCall(async function* () {
    throw new Error("no request was made");
  });
  assert.equal(await settledSoon(call.left), true);
  await assert.rejects(async () => {
    for await (const _ of call.stream) continue;
  }, /no request was made/);
});
