/**
 * `bots.ingest`: builds one version of a training source (lib/bots/ingest.ts). Its reconcile
 * sweep re-queues sources whose run went quiet — a lost KV message or a process that died —
 * found in Postgres by their heartbeat; a run still alive holds the source's lock, so a second
 * delivery leaves at once.
 */
import { defineHandler } from "../lib/jobs/types.ts";
import { ingestJob } from "../lib/bots/jobs.ts";
import { ingestSource, overdueSources } from "../lib/bots/ingest.ts";
import type { Knowledge } from "../lib/bots/knowledge.ts";

export const botsIngestHandler = (knowledge: Knowledge) =>
  defineHandler(ingestJob, async (payload, ctx, meta) => {
    const lastAttempt = meta.attempt >= ingestJob.retry.maxAttempts;
    const outcome = await ingestSource(
      { db: ctx.db, jobs: ctx, log: ctx.log, knowledge },
      payload,
      {
        lastAttempt,
      },
    );
    // Another run holds the source: alive, it finishes the work; just killed, its lock is about
    // to be released (the server notices the dead connection). Try again shortly, and leave
    // the rest to the reconciler after the last attempt.
    if (outcome === "busy" && !lastAttempt) {
      throw new Error(`source ${payload.sourceId} is being built by another run; trying later`);
    }
  }, {
    async reconcile(ctx) {
      const slot = Math.floor(Date.now() / 600_000);
      return (await overdueSources(ctx)).map((payload) => ({
        payload,
        dedupeKey: `${payload.sourceId}:${payload.version}:reconciled:${slot}`,
      }));
    },
  });
