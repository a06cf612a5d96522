/**
 * A small SSE reader for tests and benches: reads a `text/event-stream` response with npm
 * `eventsource-parser`, handing each event (and each heartbeat comment) to callbacks.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";

export interface SseEvent {
  id: number;
  event: string;
  data: Record<string, unknown>;
}

export interface ReadOptions {
  /** Called for every event; return `false` to stop reading (the connection is dropped). */
  onEvent?: (e: SseEvent) => boolean | void;
  onComment?: (comment: string) => void;
}

/** Reads until the stream ends, an `onEvent` returns false, or the body fails. */
export async function readSse(res: Response, options: ReadOptions = {}): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  let stop = false;
  const parser = createParser({
    onEvent(message: EventSourceMessage) {
      if (stop) return;
      const e = {
        id: Number(message.id),
        event: message.event ?? "message",
        data: JSON.parse(message.data),
      };
      events.push(e);
      if (options.onEvent?.(e) === false) stop = true;
    },
    onComment: (c) => options.onComment?.(c),
  });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  try {
    while (!stop) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(value);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return events;
}

export const deltas = (events: SseEvent[]) =>
  events.filter((e) => e.event === "delta").map((e) => e.data.text as string);
