/**
 * Summaries of the turns a chat's context budget drops (older turns are dropped, or
 * summarised when a summary model is configured).
 *
 * When an answer in chat mode had to leave older turns out and its AI configuration names a
 * `summary_model`, the answer enqueues {@link summarizeJob} once it is settled. The job asks the
 * summary model — on the configuration's own provider, base URL and key — to fold the summary so
 * far and the newly dropped turns into a new short summary, and stores it on the conversation
 * with the newest message it covers (`summary_through`). Context assembly then sends the summary
 * in place of those turns, never both (conversationMemory in conversations.ts).
 *
 * The summary call is an operating cost: it is never billed to the user's wallet. Its tokens
 * are added up on the conversation (`summary_tokens_in/out`) and logged. A summary that cannot
 * be made changes nothing for the user: the job is retried, then given up quietly, and the chat
 * goes on dropping the turns as it does without a summary model.
 */
import { z } from "zod";
import type { ChatMessage, Usage } from "../ai/mod.ts";
import type { Database } from "../db/mod.ts";
import { jobType } from "../jobs/types.ts";
import { summaryProvider } from "./configs.ts";
import { SUMMARY_SYSTEM_PROMPT } from "./prompts.ts";

export const summarizeJob = jobType({
  name: "chat.summarize",
  schema: z.object({
    conversationId: z.uuid(),
    /** The configuration that answered: its summary model, upstream and key make the summary. */
    aiConfigId: z.uuid(),
    /** The newest dropped turn's message: the summary is brought up to it. */
    throughMessageId: z.uuid(),
  }),
  lane: "llm",
  retry: { maxAttempts: 3, backoffMs: [5_000, 60_000] },
});

export type SummarizePayload = z.infer<typeof summarizeJob.schema>;

/**
 * One summary job at a time per conversation: answers that drop turns while one is queued or
 * running add nothing (the next answer after it enqueues again, up to its own boundary).
 */
export const summarizeDedupe = (conversationId: string) => ({
  dedupeKey: conversationId,
  dedupeTtlMs: 60_000,
});

/** Turns folded by one call at most; the rest are folded by the next job. */
export const MAX_TURNS_PER_SUMMARY = 100;
const MAX_SUMMARY_TOKENS = 400;

export type SummaryOutcome =
  | { status: "stored"; turns: number; usage: Usage; model: string }
  | { status: "off" | "up_to_date" | "superseded" };

/**
 * Brings the conversation's summary up to `throughMessageId`. Idempotent: turns already covered
 * are not folded again, and a summary only ever moves forward (a late, older job never replaces
 * a newer summary). Throws on upstream failures (the job system retries).
 */
export async function summarizeConversation(
  deps: { db: Database; encryptionKey: Uint8Array },
  payload: SummarizePayload,
): Promise<SummaryOutcome> {
  const sql = deps.db.sql;
  const ai = await summaryProvider(sql, deps.encryptionKey, payload.aiConfigId);
  if (!ai) return { status: "off" }; // turned off since the answer
  const [conversation] = await sql<{ summary: string | null }[]>`select summary from conversations
                                   where id = ${payload.conversationId}`;
  if (!conversation) return { status: "up_to_date" };
  // The turns history would send (conversationMemory's filter), after what the summary covers,
  // up to the boundary; one more than the cap tells whether the cap cut them.
  const read = await sql<{ id: string; role: "user" | "assistant"; content: string }[]>`
    select id, role, content from messages
    where conversation_id = ${payload.conversationId} and content <> ''
      and (role = 'user' or status in ('complete', 'aborted'))
      and created_at > coalesce((select summary_through from conversations
                                 where id = ${payload.conversationId}), '-infinity')
      and created_at <= (select created_at from messages where id = ${payload.throughMessageId})
    order by created_at, role desc
    limit ${MAX_TURNS_PER_SUMMARY + 1}`;
  let turns = [...read];
  if (turns.length > MAX_TURNS_PER_SUMMARY) {
    turns = turns.slice(0, MAX_TURNS_PER_SUMMARY);
    // A question and its answer share a timestamp: end on an answer, so the boundary stored
    // below never covers a turn this call did not read.
    if (turns.at(-1)!.role === "user") turns.pop();
  }
  if (turns.length === 0) return { status: "up_to_date" };

  const completion = await ai.provider.complete(
    summaryPrompt(conversation.summary, turns),
    { model: ai.model, maxOutputTokens: MAX_SUMMARY_TOKENS, temperature: 0.2 },
  );
  const summary = completion.text.trim();
  if (!summary) throw new Error("the summary model answered with an empty summary");
  const last = turns.at(-1)!.id;
  const stored = await sql`
    update conversations set summary = ${summary},
      summary_through = (select created_at from messages where id = ${last}),
      summary_tokens_in = summary_tokens_in + ${completion.usage.inputTokens},
      summary_tokens_out = summary_tokens_out + ${completion.usage.outputTokens}
    where id = ${payload.conversationId}
      and coalesce(summary_through, '-infinity') < (select created_at from messages
                                                    where id = ${last})
    returning id`;
  if (stored.length === 0) return { status: "superseded" };
  return { status: "stored", turns: turns.length, usage: completion.usage, model: ai.model };
}

/** The summary model's prompt: the summary so far, then the turns to fold into it. */
export function summaryPrompt(
  previous: string | null,
  turns: ReadonlyArray<{ role: "user" | "assistant"; content: string }>,
): ChatMessage[] {
  const transcript = turns
    .map((t) => `${t.role === "user" ? "User" : "Assistant"}: ${t.content}`)
    .join("\n\n");
  return [
    { role: "system", content: SUMMARY_SYSTEM_PROMPT },
    {
      role: "user",
      content: `Summary so far:\n${previous?.trim() || "(none)"}\n\nTurns that follow:\n` +
        transcript,
    },
  ];
}
