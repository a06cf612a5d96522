/**
 * What the webhook fuzz tests (WhatsApp, Telegram) check once a burst of hostile and valid
 * deliveries has been answered.
 */
import assert from "node:assert/strict";
import type { TestApp } from "../harness.ts";

/** Statuses hostile deliveries may get: acknowledged (200) or refused as too large (413). */
export const ACCEPTABLE = new Set([200, 413]);

/**
 * Waits until `open()` counts nothing left to handle (failing after a minute with
 * `${n} ${stillOpen}`), then checks that no job died and the reconciler runs clean.
 */
export async function settled(
  app: TestApp,
  stillOpen: string,
  open: () => Promise<number>,
): Promise<void> {
  const until = Date.now() + 60_000;
  for (;;) {
    const n = await open();
    if (n === 0) break;
    if (Date.now() > until) throw new Error(`${n} ${stillOpen}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const dead = await app.server.db.sql`select job, last_error from job_failures`;
  assert.deepEqual([...dead], [], "no job died");
  await app.server.queue.reconcile();
  assert.equal(app.server.queue.reconciler.consecutiveFailures, 0);
}
