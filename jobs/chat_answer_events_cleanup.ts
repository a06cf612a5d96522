/**
 * `chat.answer_events_cleanup`, every 5 minutes: deletes the stored stream events of answers whose
 * last event is over 10 minutes old (lib/chat/answer_events.ts). A client resumes within seconds
 * of losing its stream; after that it reads the answer with its conversation.
 */
import { pruneAnswerEvents } from "../lib/chat/answer_events.ts";
import { defineCron } from "../lib/jobs/types.ts";

export const chatAnswerEventsCleanupCron = defineCron({
  name: "chat.answer_events_cleanup",
  schedule: "*/5 * * * *",
  async run(ctx) {
    const deleted = await pruneAnswerEvents(ctx.db);
    if (deleted > 0) ctx.log.info("old answer events removed", { deleted });
  },
});
