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
import { delay, type ServerProcess, startServer } from "./_support.ts";

export { TEST_PHONE_NUMBER_ID };
export const APP_SECRET = "bench-app-secret";
export const GRAPH_TOKEN = "bench-graph-token";

/** How many phones the webhook benches write as: enough that per-phone order is not the limit. */
export const PHONES = 1_000;

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

/**
 * Hurukuro (main.ts) in a child process as the webhook benches run it: WhatsApp through Meta to the
 * fake Graph API at `graphUrl`, no sandbox, warnings only, and no send limits (the fake has
 * none; the per-phone allowance would refuse the bench); `env` adds to or overrides that.
 */
export function startWhatsAppServer(options: {
  dataDir: string;
  databaseUrl: string;
  graphUrl: string;
  env?: Record<string, string>;
}): Promise<ServerProcess> {
  return startServer({
    name: "Hurukuro",
    script: "main.ts",
    profiled: true,
    timeoutMs: 180_000,
    env: {
      HURUKURO_ENV: "test",
      HOST: "127.0.0.1",
      PORT: "0",
      DATA_DIR: options.dataDir,
      DATABASE_URL: options.databaseUrl,
      DENO_KV_PATH: "",
      SANDBOX: "",
      LOG_LEVEL: "warn",
      WHATSAPP_PROVIDER: "meta",
      WHATSAPP_TOKEN: GRAPH_TOKEN,
      WHATSAPP_PHONE_NUMBER_ID: TEST_PHONE_NUMBER_ID,
      WHATSAPP_APP_SECRET: APP_SECRET,
      WHATSAPP_VERIFY_TOKEN: "bench",
      WHATSAPP_GRAPH_URL: options.graphUrl,
      WHATSAPP_SEND_RATE: "10000",
      WHATSAPP_USER_RATE_LIMIT: "100000",
      ...options.env,
    },
  });
}

/** The fake Graph API the replies go to, in a process of its own, and where it counts them. */
export async function startFakeGraph(): Promise<{ graph: ServerProcess; countsUrl: string }> {
  const graph = await startServer({
    name: "fake Graph API",
    script: "bench/whatsapp_graph_server.ts",
    env: { GRAPH_TOKEN },
  });
  return {
    graph,
    countsUrl: graph.stdout.map((l) => /counts at (\S+)/.exec(l)?.[1]).find(Boolean)!,
  };
}

/** Messages the fake Graph API has received so far. */
export async function sentCount(countsUrl: string): Promise<number> {
  return (await (await fetch(`${countsUrl}/count`)).json() as { messages: number }).messages;
}

/**
 * Waits until the fake Graph API has `total` messages, or `limitMs` passed: when the first one
 * after the call came and when the wait ended (`performance.now()`), and how many there were.
 */
export async function waitForSent(countsUrl: string, total: number, limitMs = 600_000) {
  const started = performance.now();
  const base = await sentCount(countsUrl);
  let first = 0;
  for (;;) {
    const sent = await sentCount(countsUrl);
    const now = performance.now();
    if (!first && sent > base) first = now;
    if (sent >= total || now - started > limitMs) {
      return { first: first || now, last: now, seconds: (now - started) / 1000, sent };
    }
    await delay(20);
  }
}
