/**
 * The AI's work on a grievance (the `grievances.classify` job), in one call with structured
 * output: the categories (one to three of the admins' taxonomy, each with a confidence), an
 * overall confidence, a suggested priority, the description's language, an English summary, an
 * English translation of the description, and the summary in the complainant's language. Voice
 * notes are transcribed first when a speech-to-text model is configured, and their transcripts
 * are read with the description.
 *
 * The model sees the complainant's words only: never their name, phone, e-mail or address.
 * Its answer is JSON validated with zod; categories outside the taxonomy are dropped, and an
 * answer with none left is a failure (retried like an upstream error).
 *
 * Idempotent: a transcript is made once per voice note; the classification is stored only while
 * the grievance has none (`ai_status <> 'done'`), so a second job, or a retry after a success,
 * changes nothing. The grievance moves `submitted → classified` only from `submitted`: an
 * officer who already took it in hand keeps it where they put it.
 */
import { z } from "zod";
import type { ChatMessage } from "../ai/mod.ts";
import { AiError } from "../ai/mod.ts";
import { JobFailure, retryDelayMs } from "../jobs/types.ts";
import type { GrievancesDeps } from "./deps.ts";
import { grievanceClassifyJob } from "./jobs.ts";
import { type AiStatus, PRIORITIES } from "./model.ts";
import { rekeyGrievance } from "./rekey.ts";
import { contextOf } from "./sealing.ts";
import { announce, failTask, finishTask, taskEvent, type TaskWork } from "./tasks.ts";
import { listCategories } from "./taxonomy.ts";

/** The structured output's name: OpenAI's `json_schema.name` (the sandbox's fake knows it). */
export const CLASSIFICATION_FORMAT = "grievance_classification";

export const Classification = z.object({
  language: z.string().trim().toLowerCase().regex(/^[a-z]{2,3}$/, "an ISO 639 code"),
  categories: z.array(z.object({
    slug: z.string().max(40),
    confidence: z.number().min(0).max(1),
  })).min(1).max(5),
  confidence: z.number().min(0).max(1),
  priority: z.enum(PRIORITIES),
  summary: z.string().trim().min(1).max(2_000),
  translation: z.string().trim().max(20_000).nullable(),
  localSummary: z.string().trim().max(2_000).nullable(),
});
export type Classification = z.infer<typeof Classification>;

/** The JSON Schema sent as the structured-output format (derived from the zod schema). */
export function classificationSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(Classification) as Record<string, unknown>;
  delete schema.$schema;
  return schema;
}

export function classificationPrompt(
  categories: { slug: string; name: string; description: string }[],
  text: string,
): ChatMessage[] {
  const taxonomy = JSON.stringify(
    categories.map((c) => ({ slug: c.slug, name: c.name, description: c.description })),
  );
  return [
    {
      role: "system",
      content: [
        "You triage grievances and help requests sent to an organisation's help desk.",
        "Read the report and answer with one JSON object only, no prose, with these fields:",
        '- "language": the ISO 639-1 code of the language the report is written in ' +
        '(e.g. "en", "sn" for Shona, "nd" for Ndebele, "ne" for Nepali);',
        '- "categories": 1 to 3 of the categories below, each {"slug", "confidence" 0..1}, ' +
        "most likely first; use only these slugs;",
        '- "confidence": how sure you are of the categories, 0..1;',
        '- "priority": "low", "normal", "high" or "urgent" (urgent: danger to life or health);',
        '- "summary": two or three sentences in English saying what is wrong, where and since ' +
        "when, without names, phone numbers or addresses;",
        '- "translation": the report translated into English, or null if it is in English;',
        '- "localSummary": the summary in the report\'s own language, or null if that is English.',
        `Categories (JSON): ${taxonomy}`,
      ].join("\n"),
    },
    { role: "user", content: text },
  ];
}

/** Reads the model's answer: the JSON object in it, validated. */
export function parseClassification(text: string): Classification {
  const start = text.indexOf("{");
  const end = text.lastIndexOf("}");
  if (start < 0 || end <= start) throw new Error("the model's answer holds no JSON object");
  let value: unknown;
  try {
    value = JSON.parse(text.slice(start, end + 1));
  } catch {
    throw new Error("the model's answer is not valid JSON");
  }
  const parsed = Classification.safeParse(value);
  if (!parsed.success) {
    throw new Error(
      "the model's answer does not match the schema: " +
        parsed.error.issues.slice(0, 3).map((i) => `${i.path.join(".")}: ${i.message}`)
          .join("; "),
    );
  }
  return parsed.data;
}

/** Transcribes the grievance's voice notes that have no transcript yet; returns every transcript. */
async function transcripts(
  deps: GrievancesDeps,
  grievanceId: string,
  transcribe: ((audio: Uint8Array, mime: string) => Promise<string>) | null,
): Promise<string[]> {
  const { sql } = deps.db;
  const rows = await sql<
    {
      id: string;
      mime_type: string;
      storage_key: string;
      key_id: string;
      transcript_sealed: string | null;
    }[]
  >`select id, mime_type, storage_key, key_id, transcript_sealed
    from grievance_attachments
    where grievance_id = ${grievanceId} and kind = 'audio'
    order by created_at, id`;
  const out: string[] = [];
  for (const row of rows) {
    const context = contextOf("attachment_transcript", row.id);
    if (row.transcript_sealed) {
      const known = await deps.sealer.open(row.transcript_sealed, row.key_id, context);
      if (known) out.push(known);
      continue;
    }
    if (!transcribe) continue;
    const bytes = await deps.files.get(row.storage_key);
    if (!bytes) continue;
    const text = await transcribe(bytes, row.mime_type);
    // The row is under the current key (rekeyed before this runs).
    await sql`update grievance_attachments
              set transcript_sealed = ${await deps.sealer.seal(text, context)}
              where id = ${row.id} and transcript_sealed is null and key_id = ${deps.sealer.keyId}`;
    out.push(text);
  }
  return out;
}

/**
 * The `grievances.classify` job's work on its claimed task (tasks.ts `runClaimedTask`). Throws
 * (for the queue to retry) until its last attempt.
 */
export const classifyTask: TaskWork = async (deps, task, meta) => {
  const { sql } = deps.db;
  const taskId = task.id;
  const [g] = await sql<
    { id: string; reference: string; submitted_by: string | null; ai_status: AiStatus }[]
  >`select id, reference, submitted_by, ai_status
    from grievances where id = ${task.grievanceId}`;
  const to = { submittedBy: g?.submitted_by ?? null };
  const log = deps.log.child({ taskId, grievanceId: task.grievanceId, attempt: meta.attempt });
  if (!g || g.ai_status === "done") {
    // Deleted, or classified by another task meanwhile: nothing left to do.
    const done = await finishTask(sql, taskId);
    if (g) await announce(deps.db, deps.log, to, "task_status", taskEvent(done, g.reference));
    return;
  }
  // Anything still sealed under the previous key is re-sealed first: what this job adds is
  // sealed under the current one, and a row has one key id.
  await rekeyGrievance(sql, deps.sealer, g.id);
  await sql`update grievances set ai_status = 'running', updated_at = now()
            where id = ${g.id} and ai_status <> 'done'`;
  await announce(deps.db, deps.log, to, "task_status", taskEvent(task, g.reference));
  try {
    const upstream = await deps.ai();
    if (!upstream) throw new Error("no AI configuration is active");
    const heard = await transcripts(deps, g.id, upstream.transcribe);
    const [sealed] = await sql<{ key_id: string; description_sealed: string }[]>`
                               select key_id, description_sealed from grievances
                               where id = ${g.id}`;
    const description = await deps.sealer.open(
      sealed.description_sealed,
      sealed.key_id,
      contextOf("description", g.id),
    );
    const categories = await listCategories(sql, true);
    const text = [description ?? "", ...heard.map((t, i) => `Voice note ${i + 1}: ${t}`)]
      .join("\n\n");
    const completion = await upstream.provider.complete(
      classificationPrompt(categories, text),
      {
        temperature: 0,
        maxOutputTokens: 2_000,
        responseFormat: { name: CLASSIFICATION_FORMAT, schema: classificationSchema() },
      },
    );
    const result = parseClassification(completion.text);
    const bySlug = new Map(categories.map((c) => [c.slug, c]));
    const chosen = result.categories.filter((c) => bySlug.has(c.slug)).slice(0, 3);
    if (chosen.length === 0) {
      throw new Error("the model chose no category of the taxonomy");
    }
    const seal = (column: string, value: string | null) =>
      deps.sealer.seal(value, contextOf(column, g.id));
    const [summary, translation, localSummary] = await Promise.all([
      seal("summary", result.summary),
      seal("translation", result.language === "en" ? null : result.translation),
      seal("local_summary", result.language === "en" ? null : result.localSummary),
    ]);
    const stored = await sql.begin(async (tx) => {
      // Sealed under the current key: the row's other sealed fields must be too (a grievance has
      // one key id), so a row still under the previous key is re-sealed by the rekey task first.
      const [row] = await tx`
        update grievances set language = ${result.language}, summary_sealed = ${summary},
          translation_sealed = ${translation}, local_summary_sealed = ${localSummary},
          confidence = ${result.confidence}, ai_status = 'done', ai_error = null,
          classified_at = now(), updated_at = now(),
          priority = case when priority = 'normal' then ${result.priority} else priority end,
          status = case when status = 'submitted' then 'classified' else status end
        where id = ${g.id} and ai_status <> 'done' and key_id = ${deps.sealer.keyId}
        returning status`;
      if (!row) return false;
      for (const c of chosen) {
        await tx`insert into grievance_category_links (grievance_id, category_id, confidence)
                 values (${g.id}, ${bySlug.get(c.slug)!.id}, ${c.confidence})
                 on conflict do nothing`;
      }
      await tx`insert into grievance_history (grievance_id, action, from_status, to_status, detail)
               values (${g.id}, 'classified', 'submitted',
                       ${row.status === "classified" ? "classified" : null},
                       ${chosen.map((c) => c.slug).join(",")})`;
      return true;
    });
    const done = await finishTask(sql, taskId);
    log.info("grievance classified", {
      reference: g.reference,
      categories: chosen.map((c) => c.slug),
      language: result.language,
      stored,
      tokensIn: completion.usage.inputTokens,
      tokensOut: completion.usage.outputTokens,
    });
    await announce(deps.db, deps.log, to, "task_status", taskEvent(done, g.reference));
    if (stored) {
      await announce(deps.db, deps.log, to, "classification_complete", {
        grievanceId: g.id,
        reference: g.reference,
        categories: chosen.map((c) => c.slug),
        language: result.language,
        confidence: result.confidence,
      });
    }
  } catch (cause) {
    const message = (cause instanceof Error ? cause.message : String(cause)).slice(0, 500);
    const policy = grievanceClassifyJob.retry;
    const retryAfterMs = cause instanceof AiError ? cause.retryAfterMs : undefined;
    if (task.attempts < policy.maxAttempts) {
      const delay = retryDelayMs(policy, task.attempts, retryAfterMs);
      const queued = await failTask(sql, taskId, message, delay);
      await sql`update grievances set ai_status = 'retrying', ai_error = ${message},
                  updated_at = now()
                where id = ${g.id} and ai_status <> 'done'`;
      log.warn("grievance classification failed, will retry", { retryInMs: delay, error: message });
      await announce(deps.db, deps.log, to, "task_status", taskEvent(queued, g.reference));
      throw new JobFailure(message, { retryAfterMs });
    }
    const failed = await failTask(sql, taskId, message, null);
    await sql.begin(async (tx) => {
      const [row] = await tx`update grievances set ai_status = 'failed', ai_error = ${message},
                               updated_at = now()
                             where id = ${g.id} and ai_status <> 'done' returning id`;
      if (row) {
        await tx`insert into grievance_history (grievance_id, action, detail)
                 values (${g.id}, 'classification_failed', ${message})`;
      }
    });
    log.error("grievance classification failed; an officer can retry it", {
      attempts: task.attempts,
      error: message,
    });
    await announce(deps.db, deps.log, to, "task_status", taskEvent(failed, g.reference));
  }
};
