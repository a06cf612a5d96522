/**
 * `chat.summarize`: folds the turns a chat's budget dropped into the conversation's summary
 * (lib/chat/summaries.ts). The summary call is an operating cost, never billed to the user: its
 * tokens go on the conversation and in this job's log line. A summary that still fails on the
 * last attempt is given up quietly (no dead letter): the chat keeps working by dropping turns,
 * and the next answer that drops turns enqueues a fresh job.
 */
import { defineHandler } from "../lib/jobs/types.ts";
import { summarizeConversation, summarizeJob } from "../lib/chat/summaries.ts";

export const chatSummarizeHandler = defineHandler(summarizeJob, async (payload, ctx, meta) => {
  const log = ctx.log.child({ conversationId: payload.conversationId });
  try {
    const outcome = await summarizeConversation(
      { db: ctx.db, encryptionKey: ctx.config.encryptionKey },
      payload,
    );
    if (outcome.status === "stored") {
      log.info("conversation summary stored (operating cost, not billed)", {
        model: outcome.model,
        turns: outcome.turns,
        tokensIn: outcome.usage.inputTokens,
        tokensOut: outcome.usage.outputTokens,
        estimated: outcome.usage.estimated,
      });
    }
  } catch (error) {
    if (meta.attempt < summarizeJob.retry.maxAttempts) throw error;
    log.warn("conversation summary given up; older turns stay dropped", {
      attempts: meta.attempt,
      error: (error as Error)?.message,
    });
  }
});
