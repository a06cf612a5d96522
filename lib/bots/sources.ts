/**
 * Training sources: what a bot learns from (pasted text, an uploaded file, a web page, a
 * sitemap's pages). Adding one records it as `queued` and queues its ingestion (ingest.ts);
 * retraining builds a new version beside the one that answers; deleting removes its chunks at
 * once. Every limit is the owner's tier's (bots.ts `limitsFor`).
 */
import { z } from "zod";
import type { Database } from "../db/mod.ts";
import { publish } from "../events.ts";
import { AppError } from "../errors.ts";
import type { Enqueuer } from "../jobs/types.ts";
import type { Logger } from "../observability/log.ts";
import { textField } from "../text.ts";
import { type Actor, limitsFor, requireBot } from "./bots.ts";
import { detectMediaType } from "./detect.ts";
import { ingestDedupe, ingestJob } from "./jobs.ts";
import { allowedUrl } from "./urls.ts";
import type { Knowledge } from "./knowledge.ts";
import {
  type Bot,
  type BotRow,
  describeStatus,
  type Source,
  type SourceKind,
  type SourceRow,
  toSource,
} from "./model.ts";

export interface SourceDeps {
  db: Database;
  jobs: Enqueuer;
  log: Logger;
  knowledge: Knowledge;
}

export const TextSourceInput = z.strictObject({
  title: textField().trim().min(1, "give the text a title").max(200),
  text: textField().trim().min(1, "paste some text").max(1_000_000),
});
export type TextSourceInput = z.infer<typeof TextSourceInput>;

export const UrlSourceInput = z.strictObject({
  url: textField().trim().max(2000),
  /** `sitemap`: the URL is a sitemap.xml whose pages are each learnt. */
  kind: z.enum(["url", "sitemap"]).default("url"),
  title: textField().trim().max(200).optional(),
});
export type UrlSourceInput = z.infer<typeof UrlSourceInput>;

export interface UploadedFile {
  name: string;
  bytes: Uint8Array;
}

/** A source as its owner sees it, with its state in words. */
export interface SourceView extends Source {
  /** Sources waiting ahead of this one (queued only). */
  ahead: number;
  description: string;
}

async function checkRoom(deps: SourceDeps, bot: Bot, adding = 1): Promise<void> {
  const limits = await limitsFor(deps.db.sql, bot.ownerId);
  const [{ n }] = await deps.db.sql`
    select count(*)::int as n from bot_sources where bot_id = ${bot.id}`;
  if (n + adding > limits.sourcesMax) {
    throw new AppError(
      "forbidden",
      `This bot has ${n} of the ${limits.sourcesMax} sources your ${limits.tier} plan allows. ` +
        "Delete some or move to a larger plan.",
      { limit: limits.sourcesMax },
    );
  }
}

async function insertSource(
  deps: SourceDeps,
  bot: Bot,
  row: {
    kind: SourceKind;
    title: string;
    body?: string | null;
    url?: string | null;
    storageKey?: string | null;
    mediaType?: string | null;
    byteSize?: number | null;
    parentId?: string | null;
  },
): Promise<Source> {
  const [created] = await deps.db.sql<SourceRow[]>`
    insert into bot_sources (bot_id, kind, title, body, url, storage_key, media_type, byte_size,
                             parent_id)
    values (${bot.id}, ${row.kind}, ${row.title}, ${row.body ?? null}, ${row.url ?? null},
            ${row.storageKey ?? null}, ${row.mediaType ?? null}, ${row.byteSize ?? null},
            ${row.parentId ?? null})
    returning *`;
  const source = toSource(created);
  await deps.jobs.enqueue(
    ingestJob,
    { sourceId: source.id, version: source.version },
    ingestDedupe({ sourceId: source.id, version: source.version }),
  );
  return source;
}

/** Adds a source of one kind to the actor's bot (the routes call every kind alike). */
export type AddSource<Input> = (
  deps: SourceDeps,
  actor: Actor,
  botId: string,
  input: Input,
) => Promise<Source>;

export const addTextSource: AddSource<TextSourceInput> = async (deps, actor, botId, input) => {
  const bot = await requireBot(deps.db.sql, actor, botId);
  await checkRoom(deps, bot);
  return await insertSource(deps, bot, { kind: "text", title: input.title, body: input.text });
};

/**
 * An uploaded file: its type judged by its content (`unsupported_media_type` naming the accepted
 * types), its size by the owner's tier (`payload_too_large` naming the limit); stored, then
 * learnt in the background.
 */
export const addFileSource: AddSource<UploadedFile> = async (deps, actor, botId, file) => {
  const bot = await requireBot(deps.db.sql, actor, botId);
  const limits = await limitsFor(deps.db.sql, bot.ownerId);
  if (file.bytes.byteLength > limits.fileMaxBytes) {
    throw new AppError(
      "payload_too_large",
      `This file is ${mb(file.bytes.byteLength)}; your ${limits.tier} plan accepts files up ` +
        `to ${mb(limits.fileMaxBytes)}.`,
      { limitBytes: limits.fileMaxBytes },
    );
  }
  const mediaType = await detectMediaType(file.bytes, file.name);
  await checkRoom(deps, bot);
  const key = await deps.knowledge.files.put(`bots/${bot.id}`, file.bytes);
  try {
    return await insertSource(deps, bot, {
      kind: "file",
      title: file.name.trim().slice(0, 200) || "Uploaded file",
      storageKey: key,
      mediaType,
      byteSize: file.bytes.byteLength,
    });
  } catch (error) {
    await deps.knowledge.files.delete(key).catch(() => {});
    throw error;
  }
};

/** A web page or a sitemap: refused at once (`unprocessable`) when the URL may not be fetched. */
export const addUrlSource: AddSource<UrlSourceInput> = async (deps, actor, botId, input) => {
  const bot = await requireBot(deps.db.sql, actor, botId);
  const url = await allowedUrl(input.url, deps.knowledge.urlPolicy, "be used for training");
  await checkRoom(deps, bot);
  return await insertSource(deps, bot, {
    kind: input.kind,
    title: input.title || url.href.slice(0, 200),
    url: url.href,
  });
};

/** Adds the pages of a sitemap as url sources of its own (as many as the tier still allows). */
export async function addSitemapPages(
  deps: SourceDeps,
  sitemap: Source,
  urls: string[],
): Promise<number> {
  const [botRow] = await deps.db.sql<BotRow[]>`select * from bots where id = ${sitemap.botId}`;
  if (!botRow) return 0;
  const existing = new Set(
    (await deps.db.sql<Pick<SourceRow, "url">[]>`
      select url from bot_sources where parent_id = ${sitemap.id}`)
      .map((r) => r.url),
  );
  const limits = await limitsFor(deps.db.sql, botRow.owner_id);
  const [{ n }] = await deps.db.sql`
    select count(*)::int as n from bot_sources where bot_id = ${sitemap.botId}`;
  const room = Math.max(0, limits.sourcesMax - n);
  let added = 0;
  for (const url of urls.filter((u) => !existing.has(u)).slice(0, room)) {
    await insertSource(deps, { id: sitemap.botId } as Bot, {
      kind: "url",
      title: url.slice(0, 200),
      url,
      parentId: sitemap.id,
    });
    added++;
  }
  return added;
}

const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024 * 10) / 10} MB`;

/** The bot's sources, oldest first, each with its state in words. */
export async function listSources(deps: SourceDeps, bot: Bot): Promise<SourceView[]> {
  const rows = await deps.db.sql<(SourceRow & { ahead: number })[]>`
    select s.*,
      case when s.status = 'queued' then (
        select count(*)::int from bot_sources p
        where p.status in ('queued', 'processing') and p.queued_at < s.queued_at)
      else 0 end as ahead
    from bot_sources s where s.bot_id = ${bot.id}
    order by s.created_at, s.id`;
  return rows.map((r) => view(toSource(r), Number(r.ahead)));
}

export function view(source: Source, ahead: number): SourceView {
  return { ...source, ahead, description: describeStatus(source, ahead) };
}

export async function getSource(
  deps: SourceDeps,
  actor: Actor,
  botId: string,
  sourceId: string,
): Promise<{ bot: Bot; source: Source }> {
  const bot = await requireBot(deps.db.sql, actor, botId);
  const found = z.uuid().safeParse(sourceId).success
    ? (await deps.db.sql<
      SourceRow[]
    >`select * from bot_sources where id = ${sourceId} and bot_id = ${bot.id}`)[
      0
    ]
    : undefined;
  if (!found) throw new AppError("not_found", "This source does not exist.");
  return { bot, source: toSource(found) };
}

/**
 * Builds the source again as a new version (a failed one, or a page that changed): the
 * current chunks keep answering until the new ones are complete, then are replaced at once.
 */
export async function retrainSource(
  deps: SourceDeps,
  actor: Actor,
  botId: string,
  sourceId: string,
): Promise<Source> {
  const { source } = await getSource(deps, actor, botId, sourceId);
  const [row] = await deps.db.sql<SourceRow[]>`
    update bot_sources set version = version + 1, status = 'queued', error = null,
      chunks_total = null, chunks_done = 0, content_hash = null, heartbeat_at = null,
      queued_at = now(), updated_at = now()
    where id = ${source.id} returning *`;
  const updated = toSource(row);
  await deps.jobs.enqueue(
    ingestJob,
    { sourceId: updated.id, version: updated.version },
    ingestDedupe({ sourceId: updated.id, version: updated.version }),
  );
  await announce(deps, updated);
  return updated;
}

export async function deleteSource(
  deps: SourceDeps,
  actor: Actor,
  botId: string,
  sourceId: string,
): Promise<void> {
  const { bot, source } = await getSource(deps, actor, botId, sourceId);
  const files = await deps.db.sql.begin(async (tx) => {
    const keys = await tx<{ storage_key: string }[]>`
      select storage_key from bot_sources
      where (id = ${source.id} or parent_id = ${source.id}) and storage_key is not null`;
    await tx`delete from bot_sources where id = ${source.id}`;
    await tx`update bots set knowledge_version = knowledge_version + 1 where id = ${bot.id}`;
    return keys.map((k) => k.storage_key);
  });
  for (const key of files) {
    await deps.knowledge.files.delete(key).catch((error) =>
      deps.log.warn("an uploaded file could not be removed", { key, error })
    );
  }
}

/** Tells the owner's open pages how a source is doing (`bot.source.updated`). */
export async function announce(deps: { db: Database; log: Logger }, source: Source) {
  const [owner] = await deps.db.sql`select owner_id from bots where id = ${source.botId}`;
  if (!owner) return;
  await publish(deps.db, {
    userId: owner.owner_id,
    type: "bot.source.updated",
    data: {
      botId: source.botId,
      sourceId: source.id,
      status: source.status,
      chunksDone: source.chunksDone,
      chunksTotal: source.chunksTotal,
      description: describeStatus(source),
    },
  }).catch((error) => deps.log.warn("source event not published", { error }));
}
