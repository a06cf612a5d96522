/**
 * Ingestion: one version of one source, from its content to chunks that answer.
 *
 * extract (a worker, time-limited) → clean → split by tokens (chunker.ts) → embed in batches →
 * store → switch over. Postgres records every step, so the work survives anything:
 *
 * - **Idempotent keys.** A chunk's key is (source, version, ordinal) and inserts skip keys that
 *   exist: a run that dies midway and starts again (KV redelivers its message; the reconciler
 *   re-queues what a lost message left behind) embeds only the chunks still missing and never
 *   stores one twice. The text's hash is kept with the version: if a page changed between two
 *   attempts, the partial chunks are dropped and the version starts over.
 * - **One run per source.** The run holds a lock named after the source (`Database.tryWithLock`:
 *   an advisory lock on a server, released when its process dies); a second delivery finds it
 *   held and leaves.
 * - **Atomic switch.** The new version's chunks are stored beside the old ones, which keep
 *   answering; one transaction then removes the old chunks, marks the new version ready and
 *   bumps the bot's knowledge version (what caches compare).
 * - **Live progress.** `chunks_done/chunks_total` and a heartbeat are written after every batch,
 *   and published to the owner's pages.
 *
 * A reason the owner can act on ({@link ExtractionError}: a scanned PDF, a page that refuses
 * us) fails the source at once; anything else is retried by the job, and fails it with a
 * sentence on the last attempt.
 */
import type { Database } from "../db/mod.ts";
import { sha256Hex } from "../security/tokens.ts";
import { chunkText } from "./chunker.ts";
import { detectMediaType } from "./detect.ts";
import { cleanText, extractInWorker, ExtractionError } from "./extract.ts";
import { fetchPage, sitemapPages } from "./fetcher.ts";
import type { IngestPayload } from "./jobs.ts";
import { type Source, type SourceRow, toSource } from "./model.ts";
import { fillVectorColumn } from "./pgvector.ts";
import { learnWords } from "./retrieval.ts";
import { addSitemapPages, announce, type SourceDeps } from "./sources.ts";
import { vectorBytes } from "./vectors.ts";
import { AppError } from "../errors.ts";

/** What adding a source needs: a sitemap's run adds its pages as sources of their own. */
export type IngestDeps = SourceDeps;

/** How often a run says it is alive while it works (the reconciler's threshold is far above). */
const HEARTBEAT_MS = 5_000;
/** Progress published to the owner's pages at most this often. */
const PUBLISH_MS = 400;
/** Pages a sitemap may add at most in one run. */
const SITEMAP_MAX_PAGES = 500;

export type IngestOutcome = "ready" | "failed" | "skipped" | "busy";

/**
 * Builds `payload.version` of the source. `lastAttempt`: a failure that is not the owner's to
 * fix fails the source now (otherwise it is thrown, for the job to retry).
 */
export async function ingestSource(
  deps: IngestDeps,
  payload: IngestPayload,
  options: { lastAttempt?: boolean } = {},
): Promise<IngestOutcome> {
  const locked = await deps.db.tryWithLock(
    `bots.ingest:${payload.sourceId}`,
    () => build(deps, payload, options),
  );
  return locked.ran ? locked.value : "busy";
}

async function load(deps: IngestDeps, id: string): Promise<Source | null> {
  const [row] = await deps.db.sql<SourceRow[]>`select * from bot_sources where id = ${id}`;
  return row ? toSource(row) : null;
}

async function build(
  deps: IngestDeps,
  payload: IngestPayload,
  options: { lastAttempt?: boolean },
): Promise<IngestOutcome> {
  const sql = deps.db.sql;
  const log = deps.log.child({ sourceId: payload.sourceId, version: payload.version });
  const initial = await load(deps, payload.sourceId);
  // Deleted, superseded by a newer version, or already finished: nothing to do.
  if (!initial || initial.version !== payload.version) return "skipped";
  if (initial.status === "ready" || initial.status === "failed") return "skipped";
  const [started] = await sql<SourceRow[]>`
    update bot_sources set status = 'processing', heartbeat_at = now(), updated_at = now()
    where id = ${initial.id} and version = ${payload.version} returning *`;
  if (!started) return "skipped";
  let source = toSource(started);
  await announce(deps, source);
  const heartbeat = setInterval(() => {
    sql`update bot_sources set heartbeat_at = now()
        where id = ${source.id} and version = ${payload.version}`.catch(() => {});
  }, HEARTBEAT_MS);
  try {
    if (source.kind === "sitemap") return await buildSitemap(deps, source);
    const { text, title } = await content(deps, source);
    const hash = await sha256Hex(text);
    const embedder = deps.knowledge.embedder;
    if (
      source.readyVersion !== null && source.readyHash === hash && source.embedder === embedder.id
    ) {
      // Unchanged since the version that answers: that version's chunks become this one's.
      await finish(deps, source, hash, { relabelFrom: source.readyVersion });
      log.info("source unchanged; chunks kept");
      return "ready";
    }
    if (source.contentHash !== null && source.contentHash !== hash) {
      // An earlier attempt at this version cut other text (the page changed): start over.
      await sql`delete from bot_chunks where source_id = ${source.id} and version = ${source.version}`;
    }
    const chunks = chunkText(text);
    if (chunks.length === 0) throw new ExtractionError("no text found");
    const done = new Set(
      (await sql`select ordinal from bot_chunks
                 where source_id = ${source.id} and version = ${source.version}`)
        .map((r) => Number(r.ordinal)),
    );
    const titleUpdate = title && source.kind === "url" && source.title === source.url
      ? title
      : source.title;
    const [counted] = await sql<SourceRow[]>`
      update bot_sources set content_hash = ${hash}, chunks_total = ${chunks.length},
        chunks_done = ${done.size}, title = ${titleUpdate}, heartbeat_at = now(), updated_at = now()
      where id = ${source.id} and version = ${source.version} returning *`;
    if (!counted) return "skipped";
    source = toSource(counted);
    await announce(deps, source);
    let lastPublished = performance.now();
    const missing = chunks.filter((c) => !done.has(c.ordinal));
    for (let i = 0; i < missing.length; i += embedder.batchSize) {
      const batch = missing.slice(i, i + embedder.batchSize);
      const vectors = await embedder.embed(batch.map((c) => `${c.heading}\n${c.content}`));
      const rows = await sql`
        insert into bot_chunks ${
        sql(batch.map((c, j) => ({
          bot_id: source.botId,
          source_id: source.id,
          version: source.version,
          ordinal: c.ordinal,
          heading: c.heading,
          content: c.content,
          tokens: c.tokens,
          embedding: vectorBytes(vectors[j]),
        })))
      }
        on conflict (source_id, version, ordinal) do nothing
        returning id, ordinal`;
      if (deps.knowledge.mode === "pgvector") {
        const index = new Map(batch.map((c, j) => [c.ordinal, vectors[j]]));
        await fillVectorColumn(
          sql,
          rows.map((r) => Number(r.id)),
          rows.map((r) => index.get(Number(r.ordinal))!),
        );
      }
      for (const c of batch) done.add(c.ordinal);
      const [progress] = await sql<SourceRow[]>`
        update bot_sources set chunks_done = ${done.size}, heartbeat_at = now(), updated_at = now()
        where id = ${source.id} and version = ${source.version} returning *`;
      if (!progress) return "skipped"; // retrained or deleted meanwhile
      source = toSource(progress);
      if (performance.now() - lastPublished > PUBLISH_MS) {
        lastPublished = performance.now();
        await announce(deps, source);
      }
    }
    await finish(deps, source, hash);
    log.info("source ready", { chunks: chunks.length, embedder: embedder.id });
    return "ready";
  } catch (error) {
    if (error instanceof ExtractionError) {
      await fail(deps, source, error.message);
      return "failed";
    }
    if (error instanceof AppError && error.code === "unsupported_media_type") {
      await fail(deps, source, error.message);
      return "failed";
    }
    if (options.lastAttempt) {
      log.error("ingestion failed on its last attempt", { error });
      await fail(
        deps,
        source,
        "the embedding service did not answer after several tries; use Retry in a few minutes",
      );
      return "failed";
    }
    throw error;
  } finally {
    clearInterval(heartbeat);
  }
}

/** The source's text: pasted, read from the stored file, or fetched. */
async function content(
  deps: IngestDeps,
  source: Source,
): Promise<{ text: string; title: string | null }> {
  switch (source.kind) {
    case "text": {
      const [row] = await deps.db.sql`select body from bot_sources where id = ${source.id}`;
      const text = cleanText(row?.body ?? "");
      if (!text) throw new ExtractionError("the text is empty");
      return { text, title: null };
    }
    case "file": {
      const bytes = source.storageKey ? await deps.knowledge.files.get(source.storageKey) : null;
      if (!bytes) throw new ExtractionError("the uploaded file is gone; upload it again");
      const doc = await extractInWorker(
        bytes,
        (source.mediaType ?? await detectMediaType(bytes)) as never,
      );
      return { text: doc.text, title: doc.title };
    }
    default: {
      const [owner] = await deps.db.sql`
        select t.bot_file_max_bytes from bots b join users u on u.id = b.owner_id
        join tiers t on t.name = u.tier where b.id = ${source.botId}`;
      const page = await fetchPage(source.url!, deps.knowledge.urlPolicy, {
        maxBytes: Number(owner?.bot_file_max_bytes ?? 5 * 1024 * 1024),
        timeoutMs: deps.knowledge.fetchTimeoutMs,
      });
      const mediaType = await detectMediaType(
        page.bytes,
        new URL(page.url).pathname,
        page.contentType,
      );
      const doc = await extractInWorker(page.bytes, mediaType);
      return { text: doc.text, title: doc.title };
    }
  }
}

async function buildSitemap(deps: IngestDeps, source: Source): Promise<IngestOutcome> {
  const pages = await sitemapPages(source.url!, deps.knowledge.urlPolicy, {
    maxBytes: 10 * 1024 * 1024,
    timeoutMs: deps.knowledge.fetchTimeoutMs,
  }, SITEMAP_MAX_PAGES);
  const added = await addSitemapPages(deps, source, pages);
  const [row] = await deps.db.sql<SourceRow[]>`
    update bot_sources set status = 'ready', ready_version = version, chunks_total = 0,
      chunks_done = 0, error = null, updated_at = now()
    where id = ${source.id} and version = ${source.version} returning *`;
  if (row) await announce(deps, toSource(row));
  deps.log.info("sitemap read", { sourceId: source.id, pages: pages.length, added });
  return "ready";
}

/** Switches the source over to its new version, in one transaction. */
async function finish(
  deps: IngestDeps,
  source: Source,
  hash: string,
  options: { relabelFrom?: number } = {},
): Promise<void> {
  const embedder = deps.knowledge.embedder.id;
  const row = await deps.db.sql.begin(async (tx) => {
    if (options.relabelFrom !== undefined) {
      await tx`update bot_chunks set version = ${source.version}
               where source_id = ${source.id} and version = ${options.relabelFrom}`;
    }
    await tx`delete from bot_chunks where source_id = ${source.id} and version <> ${source.version}`;
    const [updated] = await tx<SourceRow[]>`
      update bot_sources set status = 'ready', ready_version = version, ready_hash = ${hash},
        content_hash = ${hash}, embedder = ${embedder}, error = null,
        chunks_total = (select count(*) from bot_chunks
                        where source_id = ${source.id} and version = ${source.version}),
        chunks_done = (select count(*) from bot_chunks
                       where source_id = ${source.id} and version = ${source.version}),
        updated_at = now()
      where id = ${source.id} and version = ${source.version} returning *`;
    if (updated) {
      await tx`update bots set knowledge_version = knowledge_version + 1
               where id = ${source.botId}`;
    }
    return updated;
  });
  if (!row) return;
  await learnWords(deps.db.sql, source.id, source.version);
  await announce(deps, toSource(row));
}

async function fail(deps: IngestDeps, source: Source, reason: string): Promise<void> {
  const [row] = await deps.db.sql<SourceRow[]>`
    update bot_sources set status = 'failed', error = ${reason.slice(0, 500)}, updated_at = now()
    where id = ${source.id} and version = ${source.version} returning *`;
  // The chunks of a failed version are dropped; those of the ready version keep answering.
  await deps.db.sql`delete from bot_chunks
                    where source_id = ${source.id} and version = ${source.version}
                      and version is distinct from ${source.readyVersion}`;
  if (row) await announce(deps, toSource(row));
  deps.log.warn("source failed", { sourceId: source.id, reason });
}

/** Sources whose run went quiet (lost message, dead process): their jobs, to queue again. */
export async function overdueSources(
  deps: { db: Database },
  quietSeconds = 60,
): Promise<IngestPayload[]> {
  const rows = await deps.db.sql<{ id: string; version: number }[]>`
    select id, version from bot_sources
    where status in ('queued', 'processing')
      and coalesce(heartbeat_at, queued_at) < now() - ${quietSeconds} * interval '1 second'
    order by queued_at limit 500`;
  return rows.map((r) => ({ sourceId: r.id, version: Number(r.version) }));
}
