/**
 * The loop behind our live SSE endpoints: events from a subscription are queued as they come
 * and written in order; while none come, a heartbeat comment every `heartbeatMs` keeps proxies
 * from closing the stream. Subscribing happens before `start` runs, so nothing published while
 * the stream opens (or while `start` reads history) is lost.
 */
import type { SSEStreamingApi } from "hono/streaming";

export async function relayEvents<T>(
  stream: SSEStreamingApi,
  options: {
    /** Subscribes `push`; returns the unsubscribe function. */
    subscribe(push: (event: T) => void): () => void;
    /** Written first (the `ready` event, recent history...). */
    start(): Promise<void>;
    write(event: T): Promise<void>;
    heartbeatMs: number;
  },
): Promise<void> {
  const queue: T[] = [];
  let wake: (() => void) | null = null;
  const unsubscribe = options.subscribe((event) => {
    queue.push(event);
    wake?.();
  });
  stream.onAbort(() => wake?.());
  try {
    await options.start();
    while (!stream.aborted && !stream.closed) {
      const next = queue.shift();
      if (next !== undefined) {
        await options.write(next);
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.heartbeatMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
      if (queue.length === 0 && !stream.aborted) await stream.write(": heartbeat\n\n");
    }
  } finally {
    unsubscribe();
  }
}
