/**
 * Server-Sent Events (https://html.spec.whatwg.org/multipage/server-sent-events.html): the one
 * way our endpoints stream — an answer's events, a user's live events, the admin feed.
 *
 * A body is a pull stream fed by a source: the source pushes events as they come, and they are
 * written in order, several in one chunk when they queue up; while none come, a heartbeat
 * comment every `heartbeatMs` keeps proxies from closing the stream. The stream ends when the
 * source's promise settles. A reader that leaves cancels the body (the server does so when the
 * connection closes), which aborts the source's signal: the source stops, nothing else is left
 * behind. An idle stream holds its queue and one timer, no write loop (held answer streams are
 * most of a chat server's connections).
 */

/** One event; `data` is written as JSON. */
export interface SseEvent {
  event: string;
  data: unknown;
  id?: number | string;
}

/**
 * Pushes events until its promise settles (the stream then ends) or `signal` aborts (the reader
 * left: stop and settle).
 */
export type SseSource = (push: (event: SseEvent) => void, signal: AbortSignal) => Promise<void>;

/** How often a quiet stream gets a heartbeat comment. */
export const HEARTBEAT_MS = 15_000;

/** The headers of an event stream (`X-Accel-Buffering`: nginx passes each event on at once). */
export const SSE_HEADERS = {
  "Content-Type": "text/event-stream",
  "Cache-Control": "no-cache",
  "X-Accel-Buffering": "no",
} as const;

const encoder = new TextEncoder();
const HEARTBEAT = encoder.encode(": heartbeat\n\n");

function format(e: SseEvent): string {
  const id = e.id === undefined ? "" : `id: ${e.id}\n`;
  return `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n${id}\n`;
}

/** The body of an event stream fed by `source`; a failing source ends it with `onError`'s event. */
export function sseStream(
  source: SseSource,
  options: { heartbeatMs?: number; onError?: (error: unknown) => SseEvent } = {},
): ReadableStream<Uint8Array> {
  const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
  const queue: SseEvent[] = [];
  let wake: (() => void) | null = null;
  let ended = false;
  const leaving = new AbortController();
  let following: Promise<void> = Promise.resolve();
  // One heartbeat timer per stream, moved by what is written rather than made and cleared per
  // event: it fires at most every `heartbeatMs` and then looks at how long the stream was quiet.
  let lastWrite = performance.now();
  let heartbeat: ReturnType<typeof setTimeout> | undefined;
  let beatDue = false;
  const armHeartbeat = (ms: number) => {
    heartbeat = setTimeout(() => {
      const quiet = performance.now() - lastWrite;
      if (quiet < heartbeatMs) return armHeartbeat(heartbeatMs - quiet);
      heartbeat = undefined;
      beatDue = true;
      wake?.();
    }, ms);
  };
  const stopHeartbeat = () => {
    clearTimeout(heartbeat);
    heartbeat = undefined;
  };
  return new ReadableStream<Uint8Array>({
    start() {
      following = source((event) => {
        queue.push(event);
        wake?.();
      }, leaving.signal).catch((error) => {
        if (options.onError) queue.push(options.onError(error));
      }).finally(() => {
        ended = true;
        wake?.();
      });
    },
    async pull(controller) {
      for (;;) {
        if (leaving.signal.aborted) return stopHeartbeat();
        if (queue.length > 0) {
          // Everything waiting goes out in one chunk.
          let chunk = "";
          for (const e of queue.splice(0)) chunk += format(e);
          lastWrite = performance.now();
          return controller.enqueue(encoder.encode(chunk));
        }
        if (ended) {
          stopHeartbeat();
          return controller.close();
        }
        if (beatDue) {
          beatDue = false;
          lastWrite = performance.now();
          return controller.enqueue(HEARTBEAT);
        }
        if (!heartbeat) armHeartbeat(heartbeatMs - (performance.now() - lastWrite));
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    },
    // The reader went away (or the server is closing the stream).
    async cancel() {
      leaving.abort();
      stopHeartbeat();
      wake?.();
      await following;
    },
  }, { highWaterMark: 0 });
}

/**
 * A source of live events for {@link sseStream}: subscribes first, then `start` pushes what comes
 * before (a `ready` event, recent history); events published meanwhile follow it in order, then
 * every new one, until the reader leaves.
 */
export function liveSource<T>(
  subscribe: (listener: (event: T) => void) => () => void,
  toEvent: (event: T) => SseEvent,
  start: (push: (event: SseEvent) => void) => void | Promise<void> = () => {},
): SseSource {
  return async (push, signal) => {
    const early: T[] = [];
    let live = false;
    const unsubscribe = subscribe((event) => live ? push(toEvent(event)) : early.push(event));
    try {
      await start(push);
      for (const event of early.splice(0)) push(toEvent(event));
      live = true;
      if (!signal.aborted) {
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
      }
    } finally {
      unsubscribe();
    }
  };
}
