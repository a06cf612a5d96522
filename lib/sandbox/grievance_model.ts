/**
 * The sandbox model's answers to the grievance work (served by the fake OpenAI-compatible server,
 * openai.ts), deterministic so tests can assert on them:
 *
 * - a chat completion asking for the `grievance_classification` structured output gets JSON
 *   that parses: categories chosen by keywords among the taxonomy the prompt lists (the first
 *   listed when nothing matches), the language told by a few common words (Shona, Ndebele) or
 *   the script (Nepali's Devanagari), a summary from the report's first sentence, and a
 *   "translation" that says what it stands for;
 * - `POST /v1/audio/transcriptions` gets a transcript naming the audio's size and a short
 *   fingerprint of its bytes: the same voice note always reads the same.
 */

const KEYWORDS: Record<string, string[]> = {
  water: ["water", "pipe", "tap", "sewage", "borehole", "mvura", "amanzi", "पानी"],
  roads: ["road", "pothole", "bridge", "street", "traffic", "mugwagwa", "sadak", "सडक"],
  health: ["clinic", "hospital", "medicine", "nurse", "doctor", "sick", "chipatara"],
  electricity: ["power", "electricity", "zesa", "transformer", "outage", "magetsi"],
  waste: ["refuse", "rubbish", "garbage", "dump", "waste", "marara"],
  education: ["school", "teacher", "fees", "chikoro"],
  corruption: ["bribe", "corrupt", "fraud", "chiokomuhomwe"],
  service: ["charged", "refund", "delivery", "order", "account", "billing"],
};

const LANGUAGES: { code: string; name: string; words: string[] }[] = [
  {
    code: "sn",
    name: "Shona",
    words: ["mvura", "hapana", "kwe", "iri", "vanhu", "nhasi", "nzira"],
  },
  { code: "nd", name: "Ndebele", words: ["amanzi", "akukho", "abantu", "lamuhla", "sicela"] },
];

function languageOf(text: string): { code: string; name: string } {
  if (/[\u0900-\u097f]/.test(text)) return { code: "ne", name: "Nepali" };
  const words = new Set(text.toLowerCase().split(/[^\p{L}]+/u));
  for (const lang of LANGUAGES) {
    if (lang.words.filter((w) => words.has(w)).length >= 1) return lang;
  }
  return { code: "en", name: "English" };
}

function fnv(bytes: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, "0");
}

/** The classification JSON for a grievance prompt (system prompt with the taxonomy, user text). */
export function grievanceClassificationReply(
  messages: { role: string; content: string }[],
): string {
  const system = messages.find((m) => m.role === "system")?.content ?? "";
  const report = messages.findLast((m) => m.role === "user")?.content ?? "";
  const listed = system.match(/Categories \(JSON\): (\[.*\])/)?.[1];
  let slugs: string[] = [];
  try {
    slugs = (JSON.parse(listed ?? "[]") as { slug: string }[]).map((c) => c.slug);
  } catch { /* no taxonomy: "other" below */ }
  const lower = report.toLowerCase();
  const matched = slugs.filter((slug) => (KEYWORDS[slug] ?? []).some((k) => lower.includes(k)));
  const categories = (matched.length > 0 ? matched : [slugs[0] ?? "other"]).slice(0, 3)
    .map((slug, i) => ({ slug, confidence: matched.length > 0 ? 0.9 - i * 0.2 : 0.4 }));
  const language = languageOf(report);
  const first = report.split(/(?<=[.!?।])\s|\n/)[0].trim().slice(0, 200);
  const summary = `The complainant reports: ${first || "(no text)"}`;
  const urgent = /fire|dying|emergency|collapsed|flood/.test(lower);
  return JSON.stringify({
    language: language.code,
    categories,
    confidence: categories[0].confidence,
    priority: urgent ? "urgent" : matched.length > 0 ? "normal" : "low",
    summary,
    translation: language.code === "en"
      ? null
      : `[English translation of the ${language.name}] ${report}`,
    localSummary: language.code === "en" ? null : `[${language.name}] ${summary}`,
  });
}

/** A transcript for an audio upload: deterministic in the audio's bytes. */
export function transcriptionReply(audio: Uint8Array): string {
  return `Voice note (${audio.byteLength} bytes, ${fnv(audio)}): the water has been off for a ` +
    "week and the clinic has no medicine.";
}

/** The file part of a multipart body (the fake reads the upload with the platform's parser). */
export async function multipartFile(
  raw: Uint8Array,
  contentType: string,
): Promise<{ file: Uint8Array; model: string | null } | null> {
  try {
    const form = await new Response(raw as BodyInit, { headers: { "content-type": contentType } })
      .formData();
    const file = form.get("file");
    if (!(file instanceof File)) return null;
    const model = form.get("model");
    return {
      file: new Uint8Array(await file.arrayBuffer()),
      model: typeof model === "string" ? model : null,
    };
  } catch {
    return null;
  }
}
