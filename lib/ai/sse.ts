/**
 * Server-Sent Events from an upstream's response body, parsed with npm `eventsource-parser`.
 *
 * Why not the SDK's own stream: `openai`'s `Stream` reads an answer through a chain of five async
 * generators (body → chunks → lines → messages → JSON), and every stream waiting on its model
 * holds each link's pending promise, resolvers and context. One reader and one generator here
 * carry the same events; the SDK still makes the request (auth, headers, status errors) and we
 * take its `Response` with `.asResponse()`.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";

/** No upstream sends an event anywhere near this; a body that does is broken, not slow. */
const MAX_EVENT_BYTES = 8 * 1024 * 1024;

/**
 * The events of `body` in order. An event left incomplete when the body ends is dropped (as the
 * SSE specification says). Leaving early cancels the body.
 */
export async function* sseEvents(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<EventSourceMessage, void, undefined> {
  const reader = body.getReader();
  // Made when the first bytes arrive: a stream waiting on its model holds only its reader.
  let decoder: TextDecoder | undefined;
  const ready: EventSourceMessage[] = [];
  let parser: ReturnType<typeof createParser> | undefined;
  let ended = false;
  try {
    while (!ended) {
      const { value, done } = await reader.read();
      decoder ??= new TextDecoder();
      parser ??= createParser({
        onEvent: (event) => ready.push(event),
        maxBufferSize: MAX_EVENT_BYTES,
      });
      if (done) {
        ended = true;
        parser.feed(decoder.decode());
      } else {
        parser.feed(decoder.decode(value, { stream: true }));
      }
      // Taken one at a time: a consumer that stops early leaves the rest unread.
      for (let event = ready.shift(); event; event = ready.shift()) yield event;
    }
  } finally {
    if (!ended) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
