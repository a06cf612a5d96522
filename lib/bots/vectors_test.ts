/** Exact in-process vector search: the best k by dot product, and the float32 byte form. */
import assert from "node:assert/strict";
import { bytesVector, topK, vectorBytes } from "./vectors.ts";
import { normalise } from "./embeddings.ts";

Deno.test("topK returns the k best rows by dot product, best first", () => {
  const dims = 3;
  const rows = [[1, 0, 0], [0, 1, 0], [0.8, 0.6, 0], [0, 0, 1], [0.6, 0.8, 0]].map(normalise);
  const matrix = new Float32Array(rows.flatMap((r) => [...r]));
  const ids = Float64Array.from([10, 11, 12, 13, 14]);
  const hits = topK(matrix, ids, dims, normalise([1, 0.1, 0]), 3);
  assert.deepEqual(hits.map((h) => h.chunkId), [10, 12, 14]);
  assert.ok(hits[0].score > hits[1].score && hits[1].score > hits[2].score);
  assert.equal(topK(matrix, ids, dims, normalise([0, 0, 1]), 10).length, 5);
});

Deno.test("vectors travel as little-endian float32 bytes and come back equal", () => {
  const v = normalise([0.25, -1, 3, 1e-7]);
  const bytes = vectorBytes(v);
  assert.equal(bytes.byteLength, 16);
  assert.equal(new DataView(bytes.buffer, bytes.byteOffset).getFloat32(4, true), v[1]);
  assert.deepEqual(bytesVector(bytes.slice()), v);
});
