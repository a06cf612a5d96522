/**
 * The model the fake AI servers simulate: a deterministic answer to any prompt (or a scripted
 * one), its token counts, its embeddings, and the small wire helpers both fakes answer with.
 *
 * The fakes count tokens their own way (words and punctuation), deliberately not with
 * gpt-tokenizer like lib/ai does: a test can then tell a reported usage from our estimate.
 */
import type { FakeModelOptions, FakeStep, ReplyRequest } from "./ai_common.ts";

const encoder = new TextEncoder();

/** Plain text of a message `content`: a string, or OpenAI/Anthropic content parts. */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((part) =>
      typeof part === "string"
        ? part
        : part && typeof part === "object" && typeof part.text === "string"
        ? part.text
        : ""
    ).join("");
  }
  return "";
}

/** The fake's tokens: words and punctuation marks. Not gpt-tokenizer, on purpose. */
export function fakeTokenCount(text: string): number {
  return text.match(/[\p{L}\p{N}_]+|[^\p{L}\p{N}_\s]/gu)?.length ?? 0;
}

/** The fake's prompt size: each message's tokens plus 5 for its framing. */
export function fakePromptTokens(messages: ReadonlyArray<{ content: string }>): number {
  return messages.reduce((sum, m) => sum + fakeTokenCount(m.content) + 5, 0);
}

/**
 * A plausible, deterministic answer to any prompt: it names the question, says it is simulated,
 * is long enough to stream in many pieces, and carries some Markdown (bold, a list, code) as a
 * real model's answers do, so the pages' formatting of them can be seen.
 */
export function defaultReply(request: ReplyRequest): string {
  const grounded = knowledgeReply(request);
  if (grounded !== null) return grounded;
  const question = request.lastUserMessage.replace(/\s+/g, " ").trim();
  const topic = question.length > 80 ? question.slice(0, 77) + "..." : question;
  const words = question ? question.split(" ").length : 0;
  return (topic ? `You asked: "${topic}". ` : "Hello! ") +
    "This is the **Hurukuro sandbox**, so this answer is simulated: with a real AI provider " +
    "configured, the model would reply here instead.\n\n" +
    `- Your message had ${words} ${words === 1 ? "word" : "words"}.\n` +
    `- This conversation has ${request.messages.length} ` +
    `${request.messages.length === 1 ? "message" : "messages"} so far.\n\n` +
    "Answers are written in Markdown: *emphasis*, lists and `code` show formatted.";
}

/**
 * A bot's prompt (lib/bots/answer.ts) carries its knowledge in `<knowledge>`, numbered `[n]`:
 * the simulated model answers from the first passage and cites it, or says it does not know
 * when nothing was found and the prompt allows only its knowledge — as a compliant model would.
 */
function knowledgeReply(request: ReplyRequest): string | null {
  const system = request.messages.find((m) => m.role === "system")?.content ?? "";
  const block = system.match(/<knowledge>\n([\s\S]*?)\n<\/knowledge>/);
  if (!block) return null;
  const first = block[1].match(/^\[(\d+)\] [^\n]*\n([^\n]+)/m);
  if (!first) {
    return /answer only from the knowledge/i.test(system)
      ? "I don't know: that is not covered by what I was taught. Please contact us directly."
      : "I found nothing about that in what I was taught, but in general: it depends.";
  }
  const sentence = first[2].match(/^.*?[.!?](\s|$)/)?.[0].trim() ?? first[2].slice(0, 200);
  return `According to [${first[1]}], ${sentence}`;
}

/** Splits an answer into small deltas, the way tokens arrive: words with their leading space,
 * long words in pieces of at most 6 characters. Joined, they give back the text exactly. */
export function splitDeltas(text: string): string[] {
  return text.match(/\s*\S{1,6}|\s+$/g) ?? [];
}

/** Picks the answer text for a request, honouring a scripted text first. */
export function replyText(
  options: FakeModelOptions,
  step: FakeStep | undefined,
  request: ReplyRequest,
): string {
  if (step?.kind === "reply" && step.text !== undefined) return step.text;
  if (typeof options.reply === "string") return options.reply;
  return (options.reply ?? defaultReply)(request);
}

/**
 * The deterministic embedding of a text: a unit vector from a PRNG seeded with the text's
 * FNV-1a hash. As float32, so the float and base64 encodings carry the very same numbers.
 */
export function fakeEmbedding(text: string, dimensions = 1536): Float32Array {
  let hash = 0x811c9dc5;
  for (const byte of encoder.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  let state = hash || 1;
  const next = () => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const raw = Array.from({ length: dimensions }, () => next() * 2 - 1);
  const norm = Math.hypot(...raw) || 1;
  return Float32Array.from(raw, (v) => v / norm);
}

/** Little-endian float32 bytes, base64: OpenAI's `encoding_format: "base64"`. */
export function float32Base64(vector: Float32Array): string {
  const view = new DataView(new ArrayBuffer(vector.length * 4));
  vector.forEach((v, i) => view.setFloat32(i * 4, v, true));
  const bytes = new Uint8Array(view.buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** A random id in the provider's style (`chatcmpl-…`, `msg_…`, `req_…`). */
export function fakeId(prefix: string): string {
  return prefix + crypto.randomUUID().replaceAll("-", "").slice(0, 24);
}

/** One server-sent event. */
export function sse(data: unknown, event?: string): string {
  const payload = typeof data === "string" ? data : JSON.stringify(data);
  return (event ? `event: ${event}\n` : "") + `data: ${payload}\n\n`;
}

export function json(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...Object.fromEntries(new Headers(headers)) },
  });
}

/** Retry headers of a scripted 429/5xx. */
export function retryHeaders(step: { retryAfter?: string; retryAfterMs?: number }) {
  const headers: Record<string, string> = {};
  if (step.retryAfter !== undefined) headers["retry-after"] = step.retryAfter;
  if (step.retryAfterMs !== undefined) headers["retry-after-ms"] = String(step.retryAfterMs);
  return headers;
}
