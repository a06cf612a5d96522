/**
 * Embeddings: a text as a unit vector, so that texts about the same thing lie close together.
 *
 * - {@link ProviderEmbedder}: the configured OpenAI-compatible upstream's `/v1/embeddings`
 *   (`OPENAI_EMBEDDING_MODEL`), through lib/ai.
 * - {@link HashingEmbedder}: the sandbox's stand-in, computed here, no model at all: each word's
 *   character n-grams are hashed into a fixed number of dimensions (the "hashing trick"), so
 *   texts sharing word pieces ("refund", "refunds", "refunded") score close. It knows no
 *   synonyms; it is labelled as what it is wherever it is used (logs, /health, the bot page).
 *
 * Vectors of different embedders are never compared: each source records the embedder that
 * made its vectors (`bot_sources.embedder`), and search looks only at those of the current one.
 */
import type { AiProvider } from "../ai/mod.ts";

export interface Embedder {
  /** Names the vector space: `openai:text-embedding-3-small`, `local:hashing-v1-384`. */
  readonly id: string;
  /** What a person is told it is. */
  readonly label: string;
  /** True for the local stand-in (the sandbox, or no embedding upstream configured). */
  readonly local: boolean;
  /** A best match scoring below this is weak knowledge (what the bot's analytics flag). */
  readonly weakBelow: number;
  /** Texts per upstream call. */
  readonly batchSize: number;
  /** One unit vector per text, in order. */
  embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]>;
}

export function normalise(vector: ArrayLike<number>): Float32Array {
  const out = Float32Array.from(vector);
  let norm = 0;
  for (let i = 0; i < out.length; i++) norm += out[i] * out[i];
  norm = Math.sqrt(norm);
  if (norm > 0) { for (let i = 0; i < out.length; i++) out[i] /= norm; }
  return out;
}

/** The configured upstream's embeddings (lib/ai `AiProvider.embed`). */
export class ProviderEmbedder implements Embedder {
  readonly id: string;
  readonly label: string;
  readonly local = false;
  readonly weakBelow = 0.3;
  readonly batchSize = 64;

  constructor(private readonly provider: AiProvider, model: string) {
    this.id = `${provider.name}:${model}`;
    this.label = `${model} (${provider.name})`;
  }

  async embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const { vectors } = await this.provider.embed(texts, signal);
    return vectors.map(normalise);
  }
}

/** Words too common to say what a text is about. */
const STOP_WORDS = new Set(
  ("a an and are as at be been but by can could did do does for from had has have how i if in " +
    "into is it its me my no not of on or our so than that the their them then there these they " +
    "this to was we were what when where which who why will with would you your").split(" "),
);

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Lower-case words without accents or punctuation, stop words left out. */
export function words(text: string): string[] {
  return text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0 && !STOP_WORDS.has(w));
}

export const HASHING_DIMENSIONS = 384;

/**
 * Character n-grams (3 to 5) of each word, with its boundaries marked, plus the word itself,
 * hashed with a sign into `dimensions` buckets; counts dampened (ln(1 + tf)); unit length.
 */
export class HashingEmbedder implements Embedder {
  readonly id: string;
  readonly label: string;
  readonly local = true;
  readonly weakBelow = 0.2;
  readonly batchSize = 256;

  constructor(readonly dimensions = HASHING_DIMENSIONS, why = "sandbox") {
    this.id = `local:hashing-v1-${dimensions}`;
    this.label = `local hashing vectorizer (${why}): character n-grams, not a language model`;
  }

  vector(text: string): Float32Array {
    const counts = new Map<number, number>();
    const add = (feature: string, weight: number) => {
      const h = fnv1a(feature);
      // The top bit gives the sign, so collisions cancel out rather than pile up.
      const signed = (h & 0x80000000 ? -1 : 1) * weight;
      const bucket = h % this.dimensions;
      counts.set(bucket, (counts.get(bucket) ?? 0) + signed);
    };
    for (const word of words(text).slice(0, 20_000)) {
      add("w:" + word, 1);
      const marked = `<${word}>`;
      for (let n = 3; n <= 5; n++) {
        for (let i = 0; i + n <= marked.length && i < 64; i++) {
          add(marked.slice(i, i + n), 0.5);
        }
      }
    }
    const vector = new Float32Array(this.dimensions);
    for (const [bucket, value] of counts) {
      vector[bucket] = Math.sign(value) * Math.log1p(Math.abs(value));
    }
    return normalise(vector);
  }

  embed(texts: readonly string[]): Promise<Float32Array[]> {
    return Promise.resolve(texts.map((t) => this.vector(t)));
  }
}
