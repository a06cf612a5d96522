/**
 * What the webhook benches share: signed Meta deliveries (one new text message each, from a set
 * of phones, signed before the run so the generator's work per request is the same whatever the
 * server), and the figures of the last `whatsapp` run, for `peer` to compare with when both run
 * in one `deno task bench`.
 */
import {
  metaText,
  metaWebhook,
  signMeta,
  TEST_PHONE_NUMBER_ID,
} from "../lib/sandbox/whatsapp_sign.ts";
import type { ClosedLoopFigures, LoadRequest } from "./_closed_loop.ts";

export { TEST_PHONE_NUMBER_ID };
export const APP_SECRET = "bench-app-secret";
export const GRAPH_TOKEN = "bench-graph-token";

/** A phone of the bench's range: `phoneBase + i`. */
export const benchPhone = (i: number) => String(263_780_000_000 + i);

/**
 * `count` signed deliveries, each a new message id, from `phones` phones starting at
 * `phoneBase`; `next()` hands them out in order (wrapping round, and counting, past the end).
 */
export function deliveryPool(options: {
  count: number;
  phones: number;
  phoneBase: number;
  tag: string;
  text?: string;
}) {
  const now = Math.floor(Date.now() / 1000);
  const items: LoadRequest[] = [];
  for (let i = 0; i < options.count; i++) {
    const body = JSON.stringify(metaWebhook({
      messages: [metaText({
        from: benchPhone(options.phoneBase + (i % options.phones)),
        name: "Bench User",
        id: `wamid.bench${options.tag}x${i}`,
        timestamp: now,
        text: options.text ?? "help",
      })],
    }));
    items.push({
      body,
      headers: {
        "content-type": "application/json",
        "x-hub-signature-256": signMeta(APP_SECRET, body),
      },
    });
  }
  let used = 0;
  return {
    items,
    next: (): LoadRequest => items[used++ % items.length],
    /** Deliveries handed out so far (more than `count`: some were repeats). */
    get used() {
      return used;
    },
  };
}

/** The last `whatsapp` bench's closed-loop figures in this process (bare and Hurukuro). */
export const lastWebhookRun: { bare?: ClosedLoopFigures; ours?: ClosedLoopFigures } = {};
