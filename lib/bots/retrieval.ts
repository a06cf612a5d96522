/**
 * Finding the passages that answer a question, in the bot's own knowledge:
 *
 * 1. full text, always: Postgres `tsvector` (English stemming; a chunk's heading weighted above
 *    its content) matched against the question's words, any of them (`|`), ranked by
 *    `ts_rank_cd`;
 * 2. vectors, when the question could be embedded: pgvector in SQL where the server has it,
 *    otherwise exact cosine search in process (vectors.ts);
 * 3. the two lists merged by reciprocal rank fusion: a chunk scores Σ 1 / (60 + rank) over the
 *    lists it appears in, so one found by both methods rises above one found by one alone,
 *    whatever the scales of their scores.
 *
 * Only the chunks of each source's ready version answer (a source being retrained keeps
 * answering from its previous chunks until the new ones are complete).
 */
import type { Sql } from "../db/mod.ts";
import type { Embedder } from "./embeddings.ts";
import type { SourceKind } from "./model.ts";
import { pgvectorSearch, type RetrievalMode } from "./pgvector.ts";
import type { VectorHit, VectorIndex } from "./vectors.ts";

/** The constant of reciprocal rank fusion (Cormack et al. use 60). */
export const RRF_K = 60;

export interface RankedHit {
  chunkId: number;
  score: number;
}

/** How alike (pg_trgm) a misspelt word and a word of the bot's vocabulary must be. */
export const SPELLING_SIMILARITY = 0.45;

/**
 * Full-text search: the bot's live chunks matching any word of `question`, best first. A word
 * the bot's knowledge never uses is replaced by the (at most two) words of its vocabulary that
 * are spelt most like it, so "pasword" still finds "password".
 */
export async function fullTextSearch(
  sql: Sql,
  botId: string,
  question: string,
  limit: number,
): Promise<RankedHit[]> {
  // to_tsvector stems the words and drops stop words; the query ORs the known ones and the
  // corrections of the unknown ones, so a chunk need not hold every word of a question to be
  // found (ts_rank_cd prefers those that hold more of them, close together).
  const rows = await sql<{ id: string; score: number }[]>`
    with words as (
      select distinct w as lexeme
      from unnest(tsvector_to_array(to_tsvector('english', ${question}))) w
      where strpos(w, chr(92)) = 0 -- a backslash cannot travel in the tsquery text below
    ),
    known as (
      select lexeme from words
      where exists (select 1 from bot_lexemes b where b.bot_id = ${botId} and b.lexeme = words.lexeme)
    ),
    corrected as (
      select fix.lexeme from words cross join lateral (
        select b.lexeme from bot_lexemes b
        where b.bot_id = ${botId} and b.lexeme % words.lexeme
          and similarity(b.lexeme, words.lexeme) >= ${SPELLING_SIMILARITY}
        order by similarity(b.lexeme, words.lexeme) desc, b.lexeme limit 2
      ) fix
      where words.lexeme not in (select lexeme from known)
    ),
    q as (
      select string_agg(quote_literal(lexeme), ' | ')::tsquery as query
      from (select lexeme from known union select lexeme from corrected) t
    )
    select c.id, ts_rank_cd(c.tsv, q.query, 1) as score
    from q, bot_chunks c
    join bot_sources s on s.id = c.source_id and s.ready_version = c.version
    where q.query is not null and c.bot_id = ${botId} and c.tsv @@ q.query
    order by score desc, c.id
    limit ${limit}`;
  return rows.map((r) => ({ chunkId: Number(r.id), score: Number(r.score) }));
}

/** Adds the words of a source version's chunks to its bot's vocabulary. */
export async function learnWords(sql: Sql, sourceId: string, version: number): Promise<void> {
  await sql`
    insert into bot_lexemes (bot_id, lexeme)
    select distinct c.bot_id, w from bot_chunks c, unnest(tsvector_to_array(c.tsv)) w
    where c.source_id = ${sourceId} and c.version = ${version}
    on conflict do nothing`;
}

/** Merges ranked lists by reciprocal rank fusion; best first. */
export function fuse(lists: readonly (readonly { chunkId: number }[])[], k = RRF_K): RankedHit[] {
  const scores = new Map<number, number>();
  for (const list of lists) {
    list.forEach((hit, rank) => {
      scores.set(hit.chunkId, (scores.get(hit.chunkId) ?? 0) + 1 / (k + rank + 1));
    });
  }
  return [...scores].map(([chunkId, score]) => ({ chunkId, score }))
    .sort((a, b) => b.score - a.score || a.chunkId - b.chunkId);
}

export interface RetrievalDeps {
  sql: Sql;
  embedder: Embedder;
  vectors: VectorIndex;
  mode: RetrievalMode;
}

/** Vector search over the bot's live chunks made by the current embedder. */
export function vectorSearch(
  deps: RetrievalDeps,
  bot: { id: string; knowledgeVersion: number },
  query: Float32Array,
  limit: number,
): Promise<VectorHit[]> {
  return deps.mode === "pgvector"
    ? pgvectorSearch(deps.sql, bot.id, deps.embedder.id, query, limit)
    : deps.vectors.search(deps.sql, bot, deps.embedder.id, query, limit);
}

export interface Passage {
  chunkId: number;
  sourceId: string;
  sourceTitle: string;
  sourceKind: string;
  url: string | null;
  heading: string;
  content: string;
  tokens: number;
}

export interface Retrieved {
  passages: Passage[];
  /** Best cosine of the vector list (null: no vectors searched). */
  vectorTop: number | null;
  /** Chunks the full-text search matched (of the candidates asked for). */
  fullTextMatches: number;
  /** Nothing fits: no full-text match and no vector close enough. */
  weak: boolean;
}

export interface RetrieveOptions {
  /** Passages returned at most. */
  k?: number;
  /** Candidates taken from each list before fusing. */
  candidates?: number;
  /** Tokens the passages may take in all (the prompt's budget for knowledge). */
  maxTokens?: number;
  signal?: AbortSignal;
}

/** The passages for `question`, best first (fewer when the token budget is spent). */
export async function retrieve(
  deps: RetrievalDeps,
  bot: { id: string; knowledgeVersion: number },
  question: string,
  options: RetrieveOptions = {},
): Promise<Retrieved> {
  const k = options.k ?? 5;
  const candidates = options.candidates ?? 20;
  const [text, vector] = await Promise.all([
    fullTextSearch(deps.sql, bot.id, question, candidates),
    deps.embedder.embed([question], options.signal)
      .then(([q]) => vectorSearch(deps, bot, q, candidates))
      .catch(() => null), // the upstream being down leaves full text alone, not no answer
  ]);
  const vectorTop = vector && vector.length > 0 ? vector[0].score : null;
  // Vector hits too far to be about the question are not knowledge at all.
  const close = (vector ?? []).filter((h) => h.score >= deps.embedder.weakBelow / 2);
  const fused = fuse([text, close]).slice(0, k * 2);
  const passages = await loadPassages(deps.sql, fused.map((h) => h.chunkId));
  const budget = options.maxTokens ?? 2_000;
  const kept: Passage[] = [];
  let used = 0;
  for (const p of passages) {
    if (kept.length >= k) break;
    if (used + p.tokens > budget && kept.length > 0) break;
    kept.push(p);
    used += p.tokens;
  }
  return {
    passages: kept,
    vectorTop,
    fullTextMatches: text.length,
    weak: text.length === 0 && (vectorTop === null || vectorTop < deps.embedder.weakBelow),
  };
}

/** A `bot_chunks` row joined with the columns of its source a {@link Passage} shows. */
interface PassageRow {
  /** bigint: postgres.js returns it as text. */
  id: string;
  source_id: string;
  heading: string;
  content: string;
  tokens: number;
  title: string;
  kind: SourceKind;
  url: string | null;
}

/** The chunks with their sources, in the order of `ids`. */
export async function loadPassages(sql: Sql, ids: number[]): Promise<Passage[]> {
  if (ids.length === 0) return [];
  const rows = await sql<PassageRow[]>`
    select c.id, c.source_id, c.heading, c.content, c.tokens, s.title, s.kind, s.url
    from bot_chunks c join bot_sources s on s.id = c.source_id
    where c.id = any(${ids}::bigint[])`;
  const byId = new Map(rows.map((r) => [Number(r.id), r]));
  return ids.flatMap((id) => {
    const r = byId.get(id);
    return r
      ? [{
        chunkId: id,
        sourceId: r.source_id,
        sourceTitle: r.title,
        sourceKind: r.kind,
        url: r.url ?? null,
        heading: r.heading,
        content: r.content,
        tokens: Number(r.tokens),
      }]
      : [];
  });
}
