/**
 * Bots with their own knowledge (docs/bots.md): a user creates chatbots, trains each on its own
 * content (text, files, web pages, sitemaps), and puts it on a website or behind the API.
 *
 * `createBots(deps)` is the domain's one entry point: the wiring builds it after the job queue,
 * with the {@link Knowledge} (embedder, files, vector cache) that the queue's handlers share.
 * Everything here is free of HTTP; routes/api/v1/bots*.ts and routes/bots.tsx are its faces.
 */
import type { ChatServices } from "../chat/mod.ts";
import type { Config } from "../config.ts";
import type { Database } from "../db/mod.ts";
import type { Enqueuer } from "../jobs/types.ts";
import type { Logger } from "../observability/log.ts";
import { type AnswerDeps, askBot } from "./answer.ts";
import type { Knowledge } from "./knowledge.ts";
import type { SourceDeps } from "./sources.ts";
import type { WebhookDeps } from "./webhooks.ts";

export * from "./model.ts";
export * from "./bots.ts";
export * from "./sources.ts";
export * from "./visitors.ts";
export * from "./webhooks.ts";
export { buildPrompt, citedIn } from "./answer.ts";
export { ACCEPTED_DESCRIPTION, ACCEPTED_TYPES } from "./detect.ts";
export type { Knowledge } from "./knowledge.ts";

export interface BotsDeps {
  db: Database;
  log: Logger;
  config: Config;
  jobs: Enqueuer;
  /** The app's chat: bot answers are chat answers (same runtime, metering and streams). */
  chat: ChatServices;
  knowledge: Knowledge;
}

export interface Bots {
  readonly deps: BotsDeps;
  readonly knowledge: Knowledge;
  /** For sources.ts operations. */
  readonly sources: SourceDeps;
  /** For webhooks.ts operations. */
  readonly webhooks: WebhookDeps;
  /** For answer.ts. */
  readonly answers: AnswerDeps;
  /** What /health reports. */
  health(): { retrieval: Knowledge["mode"]; embeddings: string };
  ask: (
    ...args: Parameters<typeof askBot> extends [unknown, ...infer R] ? R : never
  ) => ReturnType<typeof askBot>;
}

export function createBots(deps: BotsDeps): Bots {
  const sources: SourceDeps = {
    db: deps.db,
    jobs: deps.jobs,
    log: deps.log,
    knowledge: deps.knowledge,
  };
  const webhooks: WebhookDeps = {
    db: deps.db,
    jobs: deps.jobs,
    log: deps.log,
    encryptionKey: deps.config.encryptionKey,
    urlPolicy: deps.knowledge.urlPolicy,
  };
  const answers: AnswerDeps = {
    chat: { ...deps.chat, jobs: deps.jobs },
    knowledge: deps.knowledge,
  };
  return {
    deps,
    knowledge: deps.knowledge,
    sources,
    webhooks,
    answers,
    health: () => ({ retrieval: deps.knowledge.mode, embeddings: deps.knowledge.embedder.label }),
    ask: (bot, input) => askBot(answers, bot, input),
  };
}
