/**
 * A bot answering a question: the passages of its knowledge that fit (retrieval.ts) go into
 * its prompt, numbered by source, and the chat answers with them — the chat's own reservation,
 * metering, streaming and resuming (lib/chat), billed to the bot's owner and counted against
 * the owner's tier. The answer cites its sources as `[1]`; the citations ([n] → title and
 * link) travel in the answer's `usage` and `done` events and are kept on the message.
 *
 * Once the answer is over, the bot's webhooks hear of it (`conversation.started`,
 * `message.created`).
 */
import type { ChatServices, StartedStream } from "../chat/mod.ts";
import { followGeneration, startStream } from "../chat/mod.ts";
import type { Channel } from "../chat/conversations.ts";
import { AppError } from "../errors.ts";
import type { Knowledge } from "./knowledge.ts";
import type { Bot, Citation } from "./model.ts";
import { type Passage, retrieve, type Retrieved } from "./retrieval.ts";
import { emitEvent } from "./webhooks.ts";

export interface AnswerDeps {
  chat: ChatServices & { jobs: NonNullable<ChatServices["jobs"]> };
  knowledge: Knowledge;
}

/** What the bot is told besides its owner's instructions. */
export function buildPrompt(bot: Bot, passages: Passage[], citations: Citation[]): string {
  const numberOf = new Map(citations.map((c) => [c.sourceId, c.n]));
  const knowledge = passages.length === 0
    ? "(nothing relevant found)"
    : passages.map((p) =>
      `[${numberOf.get(p.sourceId)}] ${p.sourceTitle}${p.heading ? ` — ${p.heading}` : ""}\n` +
      p.content
    ).join("\n\n");
  const rule = bot.knowledgeOnly
    ? "Answer only from the knowledge below. If it does not contain the answer, say that you " +
      "don't know, and do not answer from general knowledge."
    : "Answer from the knowledge below where it covers the question; otherwise you may answer " +
      "from general knowledge, and say that you do.";
  return [
    bot.instructions || `You are ${bot.name}, an assistant that answers visitors' questions.`,
    `${rule} Cite the sources you use by their numbers in square brackets, like [1]. ` +
    "Be concise and answer in the language of the question.",
    `<knowledge>\n${knowledge}\n</knowledge>`,
  ].join("\n\n");
}

/** One number per source, in the order its passages rank. */
export function citationsOf(passages: Passage[]): Citation[] {
  const out: Citation[] = [];
  for (const p of passages) {
    if (out.some((c) => c.sourceId === p.sourceId)) continue;
    out.push({
      n: out.length + 1,
      sourceId: p.sourceId,
      title: p.sourceTitle,
      url: p.sourceKind === "url" ? p.url : null,
    });
  }
  return out;
}

/** The citations an answer's text refers to (`[2]`), in their order of number. */
export function citedIn(text: string, citations: Citation[]): Citation[] {
  const used = new Set([...text.matchAll(/\[(\d{1,3})\]/g)].map((m) => Number(m[1])));
  return citations.filter((c) => used.has(c.n));
}

export interface Asked {
  started: StartedStream;
  retrieved: Retrieved;
  citations: Citation[];
  /** Settles when the answer is over and its records and webhooks are written. */
  finished: Promise<void>;
}

/**
 * Starts the bot's answer to `text`; failures before streaming throw (the owner's wallet is
 * empty, their daily cap is reached, the bot is switched off).
 */
export async function askBot(
  deps: AnswerDeps,
  bot: Bot,
  input: { text: string; visitorId: string | null; conversationId?: string; channel: Channel },
): Promise<Asked> {
  if (!bot.active && input.visitorId !== null) {
    throw new AppError("forbidden", "This bot is switched off by its owner.");
  }
  const sql = deps.chat.db.sql;
  const retrieved = await retrieve(
    {
      sql,
      embedder: deps.knowledge.embedder,
      vectors: deps.knowledge.vectors,
      mode: deps.knowledge.mode,
    },
    bot,
    input.text,
  );
  const citations = citationsOf(retrieved.passages);
  const started = await startStream(deps.chat, {
    userId: bot.ownerId,
    mode: "chat",
    channel: input.channel,
    text: input.text,
    conversationId: input.conversationId,
    bot: {
      botId: bot.id,
      visitorId: input.visitorId,
      systemPrompt: buildPrompt(bot, retrieved.passages, citations),
      temperature: bot.temperature,
      model: bot.model,
      annotate: (text) => ({ citations: citedIn(text, citations) }),
    },
  });
  await sql`update messages set knowledge_score = ${retrieved.vectorTop},
              knowledge_weak = ${retrieved.weak}
            where id in (${started.messageId}, ${started.userMessageId})`;
  const [{ n }] = await sql`select count(*)::int as n from messages
                            where conversation_id = ${started.conversationId} and role = 'user'`;
  const log = deps.chat.log.child({ botId: bot.id, messageId: started.messageId });
  if (n === 1) {
    await emitEvent(deps.chat, bot.id, "conversation.started", {
      conversationId: started.conversationId,
      visitorId: input.visitorId,
    }).catch((error) => log.warn("webhook event not recorded", { error }));
  }
  const finished = new Promise<void>((resolve) => {
    let last: { event: string; data: Record<string, unknown> } | null = null;
    followGeneration(started.generation, 0, new AbortController().signal, (entry) => {
      if (entry.event === "done" || entry.event === "error") last = entry;
    }).then(async () => {
      const [message] = await sql`select content, status from messages
                                  where id = ${started.messageId}`;
      const cited = citedIn(message?.content ?? "", citations);
      await sql`update messages set citations = ${sql.json(cited as never)}
                where id = ${started.messageId}`;
      await emitEvent(deps.chat, bot.id, "message.created", {
        conversationId: started.conversationId,
        messageId: started.messageId,
        visitorId: input.visitorId,
        question: input.text,
        answer: message?.content ?? "",
        status: last?.event === "error" ? "error" : message?.status ?? "complete",
        citations: cited,
      });
    }).catch((error) => log.warn("answer records not written", { error })).finally(resolve);
  });
  return { started, retrieved, citations, finished };
}
