/**
 * Retrieval on the labelled set (tests/fixtures/retrieval): hybrid search must be at least as
 * good as the better of full text and vectors alone, on recall@5 and MRR — a quality guard.
 * Also: reciprocal rank fusion, spelling correction, the pgvector detection.
 */
import assert from "node:assert/strict";
import { withDatabase } from "../../tests/harness.ts";
import { evaluateRetrieval, formatQuality } from "../../tests/fixtures/retrieval/evaluate.ts";
import { HashingEmbedder } from "./embeddings.ts";
import { fuse } from "./retrieval.ts";
import { detectRetrievalMode } from "./pgvector.ts";
import type { Sql } from "../db/mod.ts";

Deno.test("retrieval quality: hybrid is at least as good as the better of full text and vectors", async () => {
  await withDatabase(async (db) => {
    const quality = await evaluateRetrieval(db.sql, new HashingEmbedder());
    console.log(formatQuality(quality));
    assert.ok(quality.documents >= 200 && quality.questions >= 100);
    // Neither method alone is trivially right on this set.
    assert.ok(quality.fullText.recallAt5 < 1 && quality.vectors.recallAt5 < 1);
    for (const measure of ["recallAt5", "mrr"] as const) {
      const best = Math.max(quality.fullText[measure], quality.vectors[measure]);
      assert.ok(
        quality.hybrid[measure] >= best,
        `hybrid ${measure} ${quality.hybrid[measure]} < ${best}`,
      );
    }
  });
});

Deno.test("reciprocal rank fusion: agreement lifts a chunk above one list's top", () => {
  const fused = fuse([
    [{ chunkId: 1 }, { chunkId: 2 }, { chunkId: 3 }],
    [{ chunkId: 2 }, { chunkId: 4 }],
  ]);
  assert.deepEqual(fused.map((h) => h.chunkId), [2, 1, 4, 3]);
  assert.ok(Math.abs(fused[0].score - (1 / 62 + 1 / 61)) < 1e-12);
});

Deno.test("pgvector: detected where the extension is, in-process search elsewhere", async () => {
  await withDatabase(async (db) => {
    // Neither the embedded database nor the PostgreSQL 15 of these machines ships pgvector.
    assert.equal(await detectRetrievalMode(db.sql), "in-process");
  });
  const statements: string[] = [];
  const fake = ((strings: TemplateStringsArray) => {
    const text = strings.join("?");
    statements.push(text.replace(/\s+/g, " ").trim());
    return Promise.resolve(/pg_extension/.test(text) ? [{ "?column?": 1 }] : []);
  }) as unknown as Sql;
  assert.equal(await detectRetrievalMode(fake), "pgvector");
  assert.ok(statements.some((s) => /add column if not exists embedding_vec vector/.test(s)));
});
