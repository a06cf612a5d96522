/**
 * The AI upstream grievances use: the default AI configuration's provider (lib/chat/configs.ts),
 * built with one attempt per call — the job queue retries a failed classification with its own
 * backoff, so attempts are counted in one place — and, when a speech-to-text model is configured
 * (OPENAI_TRANSCRIPTION_MODEL, or the sandbox's), transcription of voice notes through the
 * OpenAI-compatible `POST {base}/audio/transcriptions` (multipart: `file`, `model`; answers
 * `{"text": …}`).
 *
 * Transcription is a few lines of fetch rather than the `openai` SDK's audio client: the
 * protocol is one multipart POST, and the SDK's file helpers add nothing here.
 */
import { type AiProvider, createProvider } from "../ai/mod.ts";
import { AiError, AiUpstreamError, errorFromHttp } from "../ai/errors.ts";
import { retryAfterMs } from "../retry_after.ts";
import { defaultUpstream } from "../chat/configs.ts";
import type { Config } from "../config.ts";
import type { Sql } from "../db/mod.ts";

export interface AiUpstream {
  provider: AiProvider;
  /** Null when no speech-to-text model is configured. */
  transcribe: ((audio: Uint8Array, mimeType: string) => Promise<string>) | null;
}

/** The sandbox's fake serves this speech-to-text model. */
export const SANDBOX_TRANSCRIPTION_MODEL = "whisper-1";
const TRANSCRIBE_TIMEOUT_MS = 120_000;
const CLASSIFY_TIMEOUT_MS = 60_000;

/**
 * Builds the upstream from the default configuration, rebuilt only when that row changes.
 * Returns a function the domain calls per job.
 */
export function aiUpstreams(sql: Sql, config: Config): () => Promise<AiUpstream | null> {
  let cached: { key: string; upstream: AiUpstream } | null = null;
  return async () => {
    const found = await defaultUpstream(sql, config.encryptionKey);
    if (!found) return null;
    const key = `${found.config.id}:${found.config.updatedAt.getTime()}`;
    if (cached?.key === key) return cached.upstream;
    const provider = createProvider({
      provider: found.config.provider,
      apiKey: found.apiKey,
      baseUrl: found.config.baseUrl ?? undefined,
      model: found.config.model,
      temperature: 0,
      timeoutMs: CLASSIFY_TIMEOUT_MS,
      retry: { maxAttempts: 1 },
    });
    const model = config.grievances.transcriptionModel ??
      (config.sandboxed.includes("ai") ? SANDBOX_TRANSCRIPTION_MODEL : undefined);
    const base = found.config.baseUrl ?? config.ai.openai.baseUrl;
    const transcribe = model && found.config.provider === "openai"
      ? (audio: Uint8Array, mimeType: string) =>
        transcribeAudio({ baseUrl: base, apiKey: found.apiKey, model }, audio, mimeType)
      : null;
    cached = { key, upstream: { provider, transcribe } };
    return cached.upstream;
  };
}

/** One transcription; throws an AiError (errors.ts) the job's retry policy understands. */
export async function transcribeAudio(
  upstream: { baseUrl: string; apiKey?: string; model: string },
  audio: Uint8Array,
  mimeType: string,
): Promise<string> {
  const form = new FormData();
  const ext = mimeType.includes("mpeg") ? "mp3" : mimeType.includes("wav") ? "wav" : "ogg";
  form.append("file", new File([audio as BlobPart], `voice.${ext}`, { type: mimeType }));
  form.append("model", upstream.model);
  form.append("response_format", "json");
  let response: Response;
  try {
    response = await fetch(`${upstream.baseUrl.replace(/\/$/, "")}/audio/transcriptions`, {
      method: "POST",
      headers: upstream.apiKey ? { authorization: `Bearer ${upstream.apiKey}` } : {},
      body: form,
      signal: AbortSignal.timeout(TRANSCRIBE_TIMEOUT_MS),
    });
  } catch (error) {
    throw new AiUpstreamError(`transcription request failed: ${(error as Error).message}`, {
      provider: "openai",
      cause: error,
    });
  }
  const body = await response.json().catch(() => null) as
    | { text?: unknown; error?: { message?: unknown } }
    | null;
  if (!response.ok) {
    throw errorFromHttp({
      provider: "openai",
      status: response.status,
      message: String(body?.error?.message ?? `HTTP ${response.status}`),
      retryAfterMs: retryAfterMs(response.headers),
    });
  }
  if (typeof body?.text !== "string") {
    throw new AiUpstreamError("the transcription answer had no text", { provider: "openai" });
  }
  return body.text.trim();
}

export { AiError };
