import assert from "node:assert/strict";
import { sseEvents } from "./sse.ts";

const encoder = new TextEncoder();

function body(parts: string[], onCancel?: () => void): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < parts.length) controller.enqueue(encoder.encode(parts[i++]));
      else controller.close();
    },
    cancel: () => onCancel?.(),
  });
}

async function all(stream: ReadableStream<Uint8Array>) {
  const out = [];
  for await (const event of sseEvents(stream)) out.push(event);
  return out;
}

Deno.test("sseEvents: events split anywhere across chunks, with names, comments and CRLF", async () => {
  const events = await all(body([
    ': keep-alive\n\ndata: {"a"',
    ':1}\n\nevent: error\r\ndata: {"error":{}}\r\n\r\nda',
    "ta: [DONE]\n\n",
  ]));
  assert.deepEqual(events.map((e) => [e.event, e.data]), [
    [undefined, '{"a":1}'],
    ["error", '{"error":{}}'],
    [undefined, "[DONE]"],
  ]);
});

Deno.test("sseEvents: a multi-byte character split between chunks arrives whole", async () => {
  const bytes = encoder.encode("data: Mhoroi 👋🏾\n\n");
  const cut = 15; // inside the emoji
  const stream = ReadableStream.from([bytes.slice(0, cut), bytes.slice(cut)]);
  assert.deepEqual((await all(stream)).map((e) => e.data), ["Mhoroi 👋🏾"]);
});

Deno.test("sseEvents: an event without its closing blank line is dropped at the end", async () => {
  assert.deepEqual((await all(body(["data: one\n\n", "data: two"]))).map((e) => e.data), ["one"]);
});

Deno.test("sseEvents: a consumer that stops early cancels the body", async () => {
  let cancelled = false;
  const stream = body(["data: one\n\ndata: two\n\n", "data: three\n\n"], () => (cancelled = true));
  for await (const event of sseEvents(stream)) {
    assert.equal(event.data, "one");
    break;
  }
  assert.equal(cancelled, true);
});
