/**
 * Retrieval quality on the labelled set (tests/fixtures/retrieval: generated documents and
 * paraphrased, sometimes misspelt questions): recall@5 and MRR of full-text search alone,
 * vectors alone (the sandbox's hashing vectorizer) and the two fused (lib/bots/retrieval.ts).
 * On the DATABASE_URL server when set, else the embedded database.
 */
import { HashingEmbedder } from "../lib/bots/embeddings.ts";
import { evaluateRetrieval, formatQuality } from "../tests/fixtures/retrieval/evaluate.ts";
import { benchStorage } from "./_app.ts";

export const description =
  "retrieval quality (recall@5, MRR) of full text, vectors and hybrid on the labelled set";

export async function run(): Promise<void> {
  const storage = await benchStorage();
  const cleanup = storage.remove;
  try {
    const db = await storage.openDatabase();
    try {
      console.log(formatQuality(await evaluateRetrieval(db.sql, new HashingEmbedder())));
    } finally {
      await db.close();
    }
  } finally {
    await cleanup();
  }
}
