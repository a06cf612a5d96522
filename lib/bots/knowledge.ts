/**
 * What training and answering share, built once at start (before the job queue, whose
 * handlers use it): the embedder, the file store, the in-process vector cache, the retrieval
 * mode detected on the database, and the URL policy for training pages.
 */
import { createProvider } from "../ai/mod.ts";
import type { Config } from "../config.ts";
import type { Database } from "../db/mod.ts";
import type { Logger } from "../observability/log.ts";
import type { UrlPolicy } from "../security/ssrf.ts";
import { type Embedder, HashingEmbedder, ProviderEmbedder } from "./embeddings.ts";
import { detectRetrievalMode, type RetrievalMode } from "./pgvector.ts";
import { DiskFileStore, type FileStore } from "./storage.ts";
import { VectorIndex } from "./vectors.ts";

export interface Knowledge {
  embedder: Embedder;
  files: FileStore;
  vectors: VectorIndex;
  mode: RetrievalMode;
  urlPolicy: UrlPolicy;
  /** Time allowed for one training page (and its robots.txt). */
  fetchTimeoutMs: number;
}

/** The embedder the configuration calls for (see embeddings.ts). */
export function embedderFor(config: Config): Embedder {
  if (config.sandboxed.includes("ai")) return new HashingEmbedder(undefined, "sandbox");
  const openai = config.ai.openai;
  if (openai.apiKey) {
    return new ProviderEmbedder(
      createProvider({
        provider: "openai",
        apiKey: openai.apiKey,
        baseUrl: openai.baseUrl,
        model: openai.model,
        embeddingModel: openai.embeddingModel,
      }),
      openai.embeddingModel,
    );
  }
  return new HashingEmbedder(undefined, "no embedding upstream configured");
}

export async function createKnowledge(
  deps: { db: Database; config: Config; log: Logger; embedder?: Embedder; files?: FileStore },
): Promise<Knowledge> {
  const embedder = deps.embedder ?? embedderFor(deps.config);
  const mode = await detectRetrievalMode(deps.db.sql);
  const log = embedder.local ? deps.log.warn.bind(deps.log) : deps.log.info.bind(deps.log);
  log("bots: knowledge embedded by " + embedder.label, { retrieval: mode });
  return {
    embedder,
    files: deps.files ?? new DiskFileStore(deps.config.uploadsDir),
    vectors: new VectorIndex(),
    mode,
    urlPolicy: { allowHosts: deps.config.privateUrlHosts },
    fetchTimeoutMs: 15_000,
  };
}
