/**
 * A closed loop that answers a 503 as WhatsApp's providers do: the refused delivery is sent
 * again after its `Retry-After`, and the connection waits meanwhile (it does not hammer the
 * server with new deliveries). Plain `fetch` in this process: far faster than any durable
 * webhook, so the server is what the figures measure; the bare baseline keeps the faster
 * generator of bench/_closed_loop.ts.
 */
import {
  type ClosedLoopFigures,
  CONNECTIONS,
  type LoopOptions,
  measuring,
} from "./_closed_loop.ts";
import { assertLoopback, delay } from "./_support.ts";

/**
 * Sends `next()` deliveries for `seconds` (or, with `amount`, until that many are acknowledged,
 * each refused one retried until it is). 503s and other answers are counted in `others`.
 */
export async function retryingLoop(options: LoopOptions): Promise<ClosedLoopFigures> {
  assertLoopback(options.url);
  const run = measuring(options.label, options.pid);
  const started = performance.now();
  let errors = 0, handedOut = 0;
  const over = () =>
    options.amount === undefined
      ? performance.now() - started >= options.seconds * 1000
      : run.ok >= options.amount;

  const connection = async () => {
    while (!over()) {
      if (options.amount !== undefined && handedOut >= options.amount) return;
      handedOut++;
      const request = options.next();
      for (;;) {
        const sentAt = performance.now();
        const res = await fetch(options.url, { method: "POST", ...request }).catch(() => null);
        await res?.body?.cancel();
        if (!res) errors++;
        else run.answered(res.status, performance.now() - sentAt);
        if (res?.status !== 503 || (options.amount === undefined && over())) break;
        await delay((Number(res.headers.get("retry-after")) || 1) * 1000);
      }
    }
  };
  await Promise.all(Array.from({ length: options.connections ?? CONNECTIONS }, connection));
  return run.done({ errors });
}
