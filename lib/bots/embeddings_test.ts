/** The sandbox's hashing vectorizer: unit vectors, shared word pieces score close. */
import assert from "node:assert/strict";
import { HashingEmbedder } from "./embeddings.ts";

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);

Deno.test("hashing vectorizer: unit length, deterministic, labelled, word pieces matter", async () => {
  const e = new HashingEmbedder();
  assert.match(e.label, /local hashing vectorizer \(sandbox\).*not a language model/);
  const [a, b, c, a2] = await e.embed([
    "How do I get a refund for my order?",
    "Refunds are paid back within five days of the return.",
    "The clinic opens at eight in the morning.",
    "How do I get a refund for my order?",
  ]);
  assert.ok(Math.abs(dot(a, a) - 1) < 1e-5);
  assert.deepEqual(a, a2);
  assert.ok(dot(a, b) > dot(a, c), "refund shares pieces with refunds, not with clinic");
  assert.deepEqual(Array.from((await e.embed([""]))[0]).every((v) => v === 0), true);
});
