/**
 * Our SSE parser (lib/ai/sse.ts) under generated streams: events with hostile text (NUL, lone
 * surrogates, line breaks of every kind), garbage bytes, and chunk boundaries anywhere, inside a
 * UTF-8 sequence included. It never throws, and how a body is cut into chunks never changes the
 * events read from it.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { announceSeed, fuzzParams } from "./settings.ts";
import { nasty } from "./hostile_webhooks.ts";
import { sseEvents } from "../../lib/ai/sse.ts";

announceSeed("tests/fuzz/sse_test.ts");

const text = nasty(2_000);

/** An event as written on the wire; `data` may span lines. */
const event = fc.record({
  event: fc.option(text, { nil: undefined }),
  id: fc.option(text, { nil: undefined }),
  data: text,
});

const LINE_BREAK = /\r\n|\r|\n/;

function encode(events: { event?: string; id?: string; data: string }[]): string {
  let out = "";
  for (const e of events) {
    // A name or id holds no line break: the first line of what was generated stands for it.
    if (e.event !== undefined) out += `event: ${e.event.split(LINE_BREAK)[0]}\n`;
    if (e.id !== undefined) out += `id: ${e.id.split(LINE_BREAK)[0]}\n`;
    for (const line of e.data.split(LINE_BREAK)) out += `data: ${line}\n`;
    out += "\n";
  }
  return out;
}

/** `bytes` cut at the given offsets (any order, any repeats). */
function chunks(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => bytes.length ? c % bytes.length : 0))].sort((a, b) =>
    a - b
  );
  const out: Uint8Array[] = [];
  let from = 0;
  for (const cut of [...at, bytes.length]) {
    if (cut > from) out.push(bytes.slice(from, cut));
    from = cut;
  }
  return out;
}

async function read(parts: Uint8Array[]) {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const part of parts) controller.enqueue(part);
      controller.close();
    },
  });
  const events = [];
  for await (const e of sseEvents(body)) events.push({ event: e.event, id: e.id, data: e.data });
  return events;
}

Deno.test("fuzz: SSE events read the same however the stream is cut, hostile text included", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(event, { maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      async (events, cuts) => {
        const bytes = new TextEncoder().encode(encode(events));
        const whole = await read([bytes]);
        assert.deepEqual(await read(chunks(bytes, cuts)), whole);
        assert.equal(whole.length, events.length);
        whole.forEach((got, i) => {
          // Lone surrogates travel as U+FFFD in UTF-8; line breaks become "\n".
          const lines = events[i].data.toWellFormed().split(LINE_BREAK);
          assert.equal(got.data, lines.join("\n"));
        });
      },
    ),
    fuzzParams({ numRuns: fuzzParams().numRuns! * 8 }),
  );
});

Deno.test("fuzz: garbage bytes in any chunks never make the SSE parser throw", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 4_000 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      async (bytes, cuts) => {
        const whole = await read([bytes]);
        assert.deepEqual(await read(chunks(bytes, cuts)), whole);
      },
    ),
    fuzzParams({ numRuns: fuzzParams().numRuns! * 8 }),
  );
});
