/**
 * Vector search without pgvector: the vectors are stored in Postgres (`bot_chunks.embedding`,
 * float32 bytes) and searched exactly in this process — every chunk of the bot scored by its
 * dot product with the question (cosine: all vectors are unit length), the best kept.
 *
 * Each bot's vectors are loaded into one flat Float32Array the first time the bot is searched,
 * and kept while `bots.knowledge_version` is unchanged: every change of which chunks answer
 * bumps it in the same transaction, so a search that sees a new version reloads (in any
 * instance). The cache holds at most `maxFloats` numbers in all; the bots searched least
 * recently leave first. bench/bots.ts measures a search over 100,000 chunks.
 */
import type { Sql } from "../db/mod.ts";

/** A vector as stored: float32, little-endian (the byte order of every platform we run on). */
export function vectorBytes(vector: Float32Array): Uint8Array {
  return new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength);
}

export function bytesVector(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.byteLength >> 2);
  new Uint8Array(out.buffer).set(bytes.subarray(0, out.byteLength));
  return out;
}

export interface VectorHit {
  chunkId: number;
  score: number;
}

/** The `k` best of `n` rows of `matrix` (each `dims` wide) for `query`, best first. */
export function topK(
  matrix: Float32Array,
  ids: Float64Array,
  dims: number,
  query: Float32Array,
  k: number,
): VectorHit[] {
  const n = ids.length;
  const bestScores = new Float64Array(k).fill(-Infinity);
  const bestRows = new Int32Array(k).fill(-1);
  let floor = -Infinity;
  for (let row = 0; row < n; row++) {
    let dot = 0;
    const base = row * dims;
    for (let d = 0; d < dims; d++) dot += matrix[base + d] * query[d];
    if (dot <= floor) continue;
    // Insert into the sorted top list (k is small: a shift beats a heap).
    let i = k - 1;
    while (i > 0 && bestScores[i - 1] < dot) {
      bestScores[i] = bestScores[i - 1];
      bestRows[i] = bestRows[i - 1];
      i--;
    }
    bestScores[i] = dot;
    bestRows[i] = row;
    floor = bestScores[k - 1];
  }
  const hits: VectorHit[] = [];
  for (let i = 0; i < k && bestRows[i] >= 0; i++) {
    hits.push({ chunkId: ids[bestRows[i]], score: bestScores[i] });
  }
  return hits;
}

interface Loaded {
  version: number;
  embedder: string;
  dims: number;
  ids: Float64Array;
  matrix: Float32Array;
}

/** The in-process vector search, one cache per process (built by the bots' factory). */
export class VectorIndex {
  #cache = new Map<string, Loaded>();
  #loading = new Map<string, Promise<Loaded>>();
  #floats = 0;

  constructor(private readonly maxFloats = 64 * 1024 * 1024) {}

  /** Numbers held in memory now (for /metrics and tests). */
  get floats(): number {
    return this.#floats;
  }

  async search(
    sql: Sql,
    bot: { id: string; knowledgeVersion: number },
    embedder: string,
    query: Float32Array,
    k: number,
  ): Promise<VectorHit[]> {
    const loaded = await this.#get(sql, bot, embedder);
    if (loaded.ids.length === 0 || loaded.dims !== query.length) return [];
    return topK(loaded.matrix, loaded.ids, loaded.dims, query, k);
  }

  /** Forgets a bot's vectors (deleted bot). */
  forget(botId: string): void {
    const old = this.#cache.get(botId);
    if (old) this.#floats -= old.matrix.length;
    this.#cache.delete(botId);
  }

  async #get(
    sql: Sql,
    bot: { id: string; knowledgeVersion: number },
    embedder: string,
  ): Promise<Loaded> {
    const cached = this.#cache.get(bot.id);
    if (cached && cached.version === bot.knowledgeVersion && cached.embedder === embedder) {
      // Most recently used last: the map's order is the eviction order.
      this.#cache.delete(bot.id);
      this.#cache.set(bot.id, cached);
      return cached;
    }
    const key = `${bot.id}:${bot.knowledgeVersion}:${embedder}`;
    let loading = this.#loading.get(key);
    if (!loading) {
      loading = load(sql, bot.id, embedder, bot.knowledgeVersion).finally(() =>
        this.#loading.delete(key)
      );
      this.#loading.set(key, loading);
    }
    const loaded = await loading;
    this.forget(bot.id);
    this.#cache.set(bot.id, loaded);
    this.#floats += loaded.matrix.length;
    while (this.#floats > this.maxFloats && this.#cache.size > 1) {
      this.forget(this.#cache.keys().next().value!);
    }
    return loaded;
  }
}

/** Rows fetched per query while loading (a cursor keeps memory flat on a big bot). */
const LOAD_BATCH = 5_000;

async function load(sql: Sql, botId: string, embedder: string, version: number): Promise<Loaded> {
  const ids: number[] = [];
  const vectors: Uint8Array[] = [];
  let dims = 0;
  let after = 0;
  for (;;) {
    // bot_chunks.id is a bigint (text from postgres.js); the query keeps only stored vectors.
    const rows = await sql<{ id: string; embedding: Uint8Array }[]>`
      select c.id, c.embedding from bot_chunks c
      join bot_sources s on s.id = c.source_id and s.ready_version = c.version
      where c.bot_id = ${botId} and s.embedder = ${embedder} and c.embedding is not null
        and c.id > ${after}
      order by c.id limit ${LOAD_BATCH}`;
    for (const row of rows) {
      const bytes = row.embedding;
      if (dims === 0) dims = bytes.byteLength >> 2;
      if (bytes.byteLength !== dims * 4) continue;
      ids.push(Number(row.id));
      vectors.push(bytes);
    }
    if (rows.length < LOAD_BATCH) break;
    after = Number(rows[rows.length - 1].id);
  }
  const matrix = new Float32Array(ids.length * dims);
  const raw = new Uint8Array(matrix.buffer);
  vectors.forEach((bytes, i) => raw.set(bytes, i * dims * 4));
  return { version, embedder, dims, ids: Float64Array.from(ids), matrix };
}
