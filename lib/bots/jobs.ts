/**
 * The bots' background jobs (handlers in jobs/bots_*.ts). KV delivers them; the work they do
 * is recorded in Postgres (a source's status and version, a delivery's row), where the
 * reconcilers find what a lost message or a dead process left undone.
 */
import { z } from "zod";
import { jobType } from "../jobs/types.ts";

/** Builds (or rebuilds) one version of a source's chunks: extract, clean, split, embed, store. */
export const ingestJob = jobType({
  name: "bots.ingest",
  schema: z.object({ sourceId: z.uuid(), version: z.number().int().positive() }),
  // Embedding is a model call: the llm lane keeps a burst of uploads from starving other work.
  lane: "llm",
  retry: { maxAttempts: 5, backoffMs: [2_000, 10_000, 30_000, 60_000] },
});
export type IngestPayload = z.infer<typeof ingestJob.schema>;

export const ingestDedupe = (p: IngestPayload) => ({ dedupeKey: `${p.sourceId}:${p.version}` });

/** Sends one webhook delivery (lib/bots/webhooks.ts), retried with growing pauses. */
export const webhookJob = jobType({
  name: "bots.webhook",
  schema: z.object({ deliveryId: z.uuid() }),
  lane: "notifications",
  retry: { maxAttempts: 6, backoffMs: [5_000, 30_000, 120_000, 600_000, 1_800_000] },
});
export type WebhookPayload = z.infer<typeof webhookJob.schema>;
