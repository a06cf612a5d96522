/**
 * pgvector, where the database server has it: detected once at start; when the extension is
 * installed (or can be), chunks also keep their vector in a `vector` column and vector search
 * runs in SQL. Neither the embedded PGlite nor Debian's PostgreSQL ships it, so this path is
 * kept small and everything works without it (vectors.ts searches in process).
 */
import type { Sql } from "../db/mod.ts";
import type { VectorHit } from "./vectors.ts";

export type RetrievalMode = "pgvector" | "in-process";

/**
 * Which vector search this database allows. Installs the extension when the server offers it
 * and we may, and adds the column; any refusal means in-process search.
 */
export async function detectRetrievalMode(sql: Sql): Promise<RetrievalMode> {
  try {
    const [installed] = await sql`select 1 from pg_extension where extname = 'vector'`;
    if (!installed) {
      const [available] = await sql`
        select 1 from pg_available_extensions where name = 'vector'`;
      if (!available) return "in-process";
      await sql`create extension if not exists vector`;
    }
    await sql`alter table bot_chunks add column if not exists embedding_vec vector`;
    return "pgvector";
  } catch {
    return "in-process";
  }
}

/** pgvector's text form of a vector: `[0.1,0.2,…]`. */
export const vectorLiteral = (v: Float32Array) => `[${Array.from(v).join(",")}]`;

/** Copies vectors into the `vector` column of the chunks just stored (their ids). */
export async function fillVectorColumn(sql: Sql, ids: number[], vectors: Float32Array[]) {
  if (ids.length === 0) return;
  await sql`
    update bot_chunks c set embedding_vec = v.vec::vector
    from unnest(${ids}::bigint[], ${vectors.map(vectorLiteral)}::text[]) as v(id, vec)
    where c.id = v.id`;
}

/** The `k` nearest chunks by cosine distance, in SQL. */
export async function pgvectorSearch(
  sql: Sql,
  botId: string,
  embedder: string,
  query: Float32Array,
  k: number,
): Promise<VectorHit[]> {
  const literal = vectorLiteral(query);
  const rows = await sql`
    select c.id, 1 - (c.embedding_vec <=> ${literal}::vector) as score
    from bot_chunks c
    join bot_sources s on s.id = c.source_id and s.ready_version = c.version
    where c.bot_id = ${botId} and s.embedder = ${embedder} and c.embedding_vec is not null
    order by c.embedding_vec <=> ${literal}::vector
    limit ${k}`;
  return rows.map((r) => ({ chunkId: Number(r.id), score: Number(r.score) }));
}
