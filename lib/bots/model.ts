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

export function toBot(r: Record<string, unknown>): Bot {
  return {
    id: r.id as string,
    ownerId: r.owner_id as string,
    name: r.name as string,
    greeting: r.greeting as string,
    instructions: r.instructions as string,
    model: (r.model as string | null) ?? null,
    temperature: Number(r.temperature),
    knowledgeOnly: r.knowledge_only as boolean,
    allowedOrigins: (r.allowed_origins as string[] | null) ?? [],
    active: r.active as boolean,
    publicKey: r.public_key as string,
    knowledgeVersion: Number(r.knowledge_version),
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
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

export function toSource(r: Record<string, unknown>): Source {
  return {
    id: r.id as string,
    botId: r.bot_id as string,
    kind: r.kind as SourceKind,
    title: r.title as string,
    url: (r.url as string | null) ?? null,
    storageKey: (r.storage_key as string | null) ?? null,
    mediaType: (r.media_type as string | null) ?? null,
    byteSize: num(r.byte_size),
    parentId: (r.parent_id as string | null) ?? null,
    status: r.status as SourceStatus,
    error: (r.error as string | null) ?? null,
    version: Number(r.version),
    readyVersion: num(r.ready_version),
    contentHash: (r.content_hash as string | null) ?? null,
    readyHash: (r.ready_hash as string | null) ?? null,
    embedder: (r.embedder as string | null) ?? null,
    chunksTotal: num(r.chunks_total),
    chunksDone: Number(r.chunks_done ?? 0),
    queuedAt: r.queued_at as Date,
    heartbeatAt: (r.heartbeat_at as Date | null) ?? null,
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
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

export function toLimits(r: Record<string, unknown>): BotLimits {
  return {
    tier: r.name as string,
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
