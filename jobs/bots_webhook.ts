/**
 * `bots.webhook`: one attempt at a webhook delivery (lib/bots/webhooks.ts); the job's retries
 * space the attempts out, the last one marks the delivery failed. Its reconcile sweep re-queues
 * pending deliveries whose message was lost.
 */
import { defineHandler } from "../lib/jobs/types.ts";
import { webhookJob } from "../lib/bots/jobs.ts";
import { overdueDeliveries, sendDelivery } from "../lib/bots/webhooks.ts";
import type { Knowledge } from "../lib/bots/knowledge.ts";

export const botsWebhookHandler = (knowledge: Knowledge) =>
  defineHandler(webhookJob, async ({ deliveryId }, ctx, meta) => {
    await sendDelivery(
      {
        db: ctx.db,
        jobs: ctx,
        log: ctx.log,
        encryptionKey: ctx.config.encryptionKey,
        urlPolicy: knowledge.urlPolicy,
      },
      deliveryId,
      { lastAttempt: meta.attempt >= webhookJob.retry.maxAttempts },
    );
  }, {
    async reconcile(ctx) {
      const slot = Math.floor(Date.now() / 600_000);
      return (await overdueDeliveries(ctx)).map((deliveryId) => ({
        payload: { deliveryId },
        dedupeKey: `${deliveryId}:reconciled:${slot}`,
      }));
    },
  });
