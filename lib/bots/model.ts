/**
 * The bots' vocabulary and rows: every list of values is written here once, validated with
 * `z.enum` where it enters and checked by the SQL of migrations/0012_bots.sql (model_test.ts
 * compares the two). One mapping function per table turns a row into its type.
 */
import { z } from "zod";

export const SOURCE_KINDS = ["text", "file", "url", "sitemap"] as const;
export type SourceKind = typeof SOURCE_KINDS[number];

export const SOURCE_STATUSES = ["queued", "processing", "ready", "failed"] as const;
export type SourceStatus = typeof SOURCE_STATUSES[number];

export const WEBHOOK_EVENTS = [
  "conversation.started",
  "message.created",
  "feedback.given",
] as const;
export type WebhookEvent = typeof WEBHOOK_EVENTS[number];

export const DELIVERY_STATUSES = ["pending", "delivered", "failed"] as const;
export type DeliveryStatus = typeof DELIVERY_STATUSES[number];

export const FEEDBACK_RATINGS = ["up", "down"] as const;
export type FeedbackRating = typeof FEEDBACK_RATINGS[number];
/** How a rating is stored (`messages.feedback`). */
export const FEEDBACK_VALUE: Record<FeedbackRating, 1 | -1> = { up: 1, down: -1 };

export const SourceKind = z.enum(SOURCE_KINDS);
export const SourceStatus = z.enum(SOURCE_STATUSES);
export const WebhookEvent = z.enum(WEBHOOK_EVENTS);
export const FeedbackRating = z.enum(FEEDBACK_RATINGS);

/** The prefix of a bot's public (embed) key: it names the bot, it grants nothing else. */
export const PUBLIC_KEY_PREFIX = "hkb_";

export interface Bot {
  id: string;
  ownerId: string;
  name: string;
  greeting: string;
  instructions: string;
  /** null → the service's default model. */
  model: string | null;
  temperature: number;
  /** Answers only from its knowledge ("I don't know" when nothing fits). */
  knowledgeOnly: boolean;
  /** Website origins (`https://shop.example`) whose pages may embed it. */
  allowedOrigins: string[];
  active: boolean;
  publicKey: string;
  knowledgeVersion: number;
  createdAt: Date;
  updatedAt: Date;
}

/** A `bots` row (the columns a {@link Bot} is read from). */
export interface BotRow {
  id: string;
  owner_id: string;
  name: string;
  greeting: string;
  instructions: string;
  model: string | null;
  /** numeric: postgres.js returns it as text. */
  temperature: string;
  knowledge_only: boolean;
  allowed_origins: string[];
  active: boolean;
  public_key: string;
  /** bigint: postgres.js returns it as text. */
  knowledge_version: string;
  created_at: Date;
  updated_at: Date;
}

export function toBot(r: BotRow): Bot {
  return {
    id: r.id,
    ownerId: r.owner_id,
    name: r.name,
    greeting: r.greeting,
    instructions: r.instructions,
    model: r.model ?? null,
    temperature: Number(r.temperature),
    knowledgeOnly: r.knowledge_only,
    allowedOrigins: r.allowed_origins ?? [],
    active: r.active,
    publicKey: r.public_key,
    knowledgeVersion: Number(r.knowledge_version),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export interface Source {
  id: string;
  botId: string;
  kind: SourceKind;
  title: string;
  url: string | null;
  storageKey: string | null;
  mediaType: string | null;
  byteSize: number | null;
  parentId: string | null;
  status: SourceStatus;
  error: string | null;
  version: number;
  readyVersion: number | null;
  contentHash: string | null;
  readyHash: string | null;
  embedder: string | null;
  chunksTotal: number | null;
  chunksDone: number;
  queuedAt: Date;
  heartbeatAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** A `bot_sources` row (the columns a {@link Source} is read from; `body` is not one). */
export interface SourceRow {
  id: string;
  bot_id: string;
  kind: SourceKind;
  title: string;
  url: string | null;
  storage_key: string | null;
  media_type: string | null;
  /** bigint: postgres.js returns it as text. */
  byte_size: string | null;
  parent_id: string | null;
  status: SourceStatus;
  error: string | null;
  version: number;
  ready_version: number | null;
  content_hash: string | null;
  ready_hash: string | null;
  embedder: string | null;
  chunks_total: number | null;
  chunks_done: number;
  queued_at: Date;
  heartbeat_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export function toSource(r: SourceRow): Source {
  return {
    id: r.id,
    botId: r.bot_id,
    kind: r.kind,
    title: r.title,
    url: r.url ?? null,
    storageKey: r.storage_key ?? null,
    mediaType: r.media_type ?? null,
    byteSize: num(r.byte_size),
    parentId: r.parent_id ?? null,
    status: r.status,
    error: r.error ?? null,
    version: Number(r.version),
    readyVersion: num(r.ready_version),
    contentHash: r.content_hash ?? null,
    readyHash: r.ready_hash ?? null,
    embedder: r.embedder ?? null,
    chunksTotal: num(r.chunks_total),
    chunksDone: Number(r.chunks_done ?? 0),
    queuedAt: r.queued_at,
    heartbeatAt: r.heartbeat_at ?? null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/**
 * A source's state in words, as its owner sees it: `queued` always says why it waits, and a
 * run in progress says how far it got.
 */
export function describeStatus(source: Source, ahead = 0): string {
  switch (source.status) {
    case "queued":
      return ahead > 0
        ? `waiting: ${ahead} ${ahead === 1 ? "source" : "sources"} ahead`
        : "waiting: next in line";
    case "processing":
      return source.chunksTotal === null
        ? (source.kind === "file" ? "processing: reading the file" : "processing: fetching")
        : `processing ${source.chunksDone}/${source.chunksTotal} chunks`;
    case "ready":
      return source.kind === "sitemap" ? "ready: pages added" : "ready";
    case "failed":
      return `failed: ${source.error ?? "unknown reason"}`;
  }
}

/** What each tier allows (columns of `tiers`). */
export interface BotLimits {
  tier: string;
  botsMax: number;
  sourcesMax: number;
  fileMaxBytes: number;
  /** Questions a minute one bot may be asked (the tier's request rate). */
  messagesPerMinute: number;
}

/** The `tiers` columns a {@link BotLimits} is read from. */
export interface LimitsRow {
  name: string;
  bots_max: number;
  bot_sources_max: number;
  /** bigint: postgres.js returns it as text. */
  bot_file_max_bytes: string;
  requests_per_minute: number;
}

export function toLimits(r: LimitsRow): BotLimits {
  return {
    tier: r.name,
    botsMax: Number(r.bots_max),
    sourcesMax: Number(r.bot_sources_max),
    fileMaxBytes: Number(r.bot_file_max_bytes),
    messagesPerMinute: Number(r.requests_per_minute),
  };
}

export interface Citation {
  /** The number the answer cites it by (`[1]`). */
  n: number;
  sourceId: string;
  title: string;
  /** Where a reader can look it up (url sources); null for text and files. */
  url: string | null;
}
