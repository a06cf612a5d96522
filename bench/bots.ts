/**
 * Bots: ingestion throughput and retrieval latency at size, beside a floor measured in the same
 * run, and the retrieval quality of `bench/retrieval.ts`.
 *
 * - Ingestion: a text source of BENCH_BOTS_INGEST_CHUNKS chunks (default 5,000) through the
 *   whole pipeline (lib/bots/ingest.ts: clean, split by tokens, embed with the hashing
 *   vectorizer, store, switch over), in chunks per second.
 * - Retrieval: one bot with BENCH_BOTS_CHUNKS chunks (default 100,000), questions taken from
 *   its own text: full text alone, in-process vector search alone (after its one-time load,
 *   reported apart), and the hybrid `retrieve()` used for answers, p50/p99 — beside a bare
 *   `select` of the same rows (every chunk's id and vector, what any exact search has to read).
 *
 * On the DATABASE_URL server when set, else the embedded database.
 */
import { HashingEmbedder } from "../lib/bots/embeddings.ts";
import { ingestSource } from "../lib/bots/ingest.ts";
import { fullTextSearch, learnWords, retrieve, vectorSearch } from "../lib/bots/retrieval.ts";
import { DiskFileStore } from "../lib/bots/storage.ts";
import { vectorBytes, VectorIndex } from "../lib/bots/vectors.ts";
import type { Knowledge } from "../lib/bots/knowledge.ts";
import { memoryLogger } from "../lib/observability/log.ts";
import { loadFixture, makeBot } from "../tests/fixtures/retrieval/evaluate.ts";
import { envNumber, integer, ms, p50AndP99, table } from "./_support.ts";
import { benchStorage } from "./_app.ts";
import { run as runQuality } from "./retrieval.ts";

export const description =
  "bots: ingestion chunks/s, retrieval p50/p99 over 100,000 chunks vs a bare select, quality";

const QUERIES = 200;

function stats(samples: number[]): string[] {
  const { p50, p99 } = p50AndP99(samples);
  return [ms(p50), ms(p99)];
}

export async function run(): Promise<void> {
  const ingestChunks = envNumber("BENCH_BOTS_INGEST_CHUNKS", 5_000, 10, 1_000_000);
  const chunks = envNumber("BENCH_BOTS_CHUNKS", 100_000, 100, 2_000_000);
  const storage = await benchStorage();
  const cleanup = storage.remove;
  const db = await storage.openDatabase();
  try {
    const sql = db.sql;
    const embedder = new HashingEmbedder();
    const knowledge: Knowledge = {
      embedder,
      files: new DiskFileStore(`${storage.dataDir}/uploads`),
      vectors: new VectorIndex(),
      mode: "in-process",
      urlPolicy: {},
      fetchTimeoutMs: 10_000,
    };
    const { documents, questions } = await loadFixture();

    // ---- ingestion ------------------------------------------------------------------------
    const ingestBot = await makeBot(sql, "bench-ingest");
    // About one chunk per 300 tokens: sections of a few documents each.
    const parts: string[] = [];
    for (let i = 0; parts.length < ingestChunks * 5; i++) {
      const d = documents[i % documents.length];
      parts.push(`${i % 5 === 0 ? `# ${d.title} (${i})\n\n` : ""}${d.text}`);
    }
    const [source] = await sql`
      insert into bot_sources (bot_id, kind, title, body)
      values (${ingestBot}, 'text', 'bench', ${parts.join("\n\n")}) returning id`;
    const noJobs = { enqueue: () => Promise.resolve({ id: "", deduplicated: false }) };
    const started = performance.now();
    const outcome = await ingestSource(
      { db, jobs: noJobs, log: memoryLogger("error"), knowledge },
      { sourceId: source.id, version: 1 },
    );
    const ingestMs = performance.now() - started;
    const [{ n: stored }] = await sql`
      select count(*)::int as n from bot_chunks where source_id = ${source.id}`;
    console.log(
      `ingestion (${outcome}): ${integer(stored)} chunks in ${ms(ingestMs)} ms = ` +
        `${integer(stored / (ingestMs / 1000))} chunks/s (${embedder.label})`,
    );

    // ---- retrieval at size ----------------------------------------------------------------
    const bot = await makeBot(sql, "bench-retrieval");
    const loadStarted = performance.now();
    const [big] = await sql`
      insert into bot_sources (bot_id, kind, title, status, version, ready_version, embedder)
      values (${bot}, 'text', 'bench', 'ready', 1, 1, ${embedder.id}) returning id`;
    const BATCH = 1_000;
    for (let at = 0; at < chunks; at += BATCH) {
      const rows = [];
      for (let i = at; i < Math.min(chunks, at + BATCH); i++) {
        const d = documents[i % documents.length];
        const content = `${d.text} (copy ${Math.floor(i / documents.length)})`;
        rows.push({
          bot_id: bot,
          source_id: big.id,
          version: 1,
          ordinal: i,
          heading: d.title,
          content,
          tokens: 60,
          embedding: vectorBytes((await embedder.embed([`${d.title}\n${content}`]))[0]),
        });
      }
      await sql`insert into bot_chunks ${sql(rows)}`;
    }
    await learnWords(sql, big.id, 1);
    await sql`update bots set knowledge_version = 1 where id = ${bot}`;
    console.log(`stored ${integer(chunks)} chunks in ${ms(performance.now() - loadStarted)} ms`);

    const botRef = { id: bot, knowledgeVersion: 1 };
    const deps = { sql, embedder, vectors: knowledge.vectors, mode: "in-process" as const };
    const firstLoad = performance.now();
    await vectorSearch(deps, botRef, (await embedder.embed(["warm up"]))[0], 20);
    const loadMs = performance.now() - firstLoad;

    const asked = Array.from(
      { length: QUERIES },
      (_, i) => questions[i % questions.length].question,
    );
    const bare: number[] = [];
    const text: number[] = [];
    const vectors: number[] = [];
    const hybrid: number[] = [];
    for (const [i, q] of asked.entries()) {
      if (i < 20) {
        const t0 = performance.now();
        await sql`select id, embedding from bot_chunks where bot_id = ${bot}`;
        bare.push(performance.now() - t0);
      }
      let t = performance.now();
      await fullTextSearch(sql, bot, q, 20);
      text.push(performance.now() - t);
      const [query] = await embedder.embed([q]);
      t = performance.now();
      await vectorSearch(deps, botRef, query, 20);
      vectors.push(performance.now() - t);
      t = performance.now();
      await retrieve(deps, botRef, q);
      hybrid.push(performance.now() - t);
    }
    console.log(table(["over " + integer(chunks) + " chunks", "p50 ms", "p99 ms"], [
      ["bare select of the rows (id, vector)", ...stats(bare)],
      ["full text (tsvector, ts_rank_cd)", ...stats(text)],
      ["vectors in process (exact cosine)", ...stats(vectors)],
      ["hybrid retrieve() (both + RRF + rows)", ...stats(hybrid)],
    ], ["l", "r", "r"]));
    console.log(
      `vector cache: first search loaded ${integer(chunks)} vectors in ${ms(loadMs)} ms ` +
        `(${integer(knowledge.vectors.floats * 4 / 1024 / 1024)} MiB held)`,
    );
  } finally {
    await db.close();
    await cleanup();
  }
  await runQuality();
}
