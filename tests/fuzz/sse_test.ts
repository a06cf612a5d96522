/**
 * Our SSE parser (lib/ai/sse.ts) under generated streams: events with hostile text (NUL, lone
 * surrogates, line breaks of every kind), garbage bytes, and chunk boundaries anywhere, inside a
 * UTF-8 sequence included. It never throws, and how a body is cut into chunks never changes the
 * events read from it.
 *
 * Our answer streams' resume (`GET /api/v1/messages/{id}/stream` with `Last-Event-ID`, header or
 * query) under hostile ids (huge, negative, fractions, NUL, text) and other users' answers: never
 * a 5xx, never another user's answer.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { announceSeed, fuzzParams } from "./settings.ts";
import { nasty } from "./hostile_webhooks.ts";
import { sseEvents } from "../../lib/ai/sse.ts";
import { signUp, startTestApp, type TestApp } from "../harness.ts";
import { FAKE_OPENAI_KEY, startFakeOpenAI } from "../../lib/sandbox/openai.ts";
import { post } from "../../lib/wallet/ledger.ts";

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

/** A user with tokens, and one finished answer of theirs whose text is `reply`. */
async function userWithAnswer(app: TestApp, reply: string, fake: { script: (s: never) => void }) {
  const signed = await signUp(app.url, `sse-${crypto.randomUUID()}@example.com`);
  await post(app.server.db.sql, {
    userId: signed.user.id,
    kind: "purchase_credit",
    delta: 1_000_000,
    idempotencyKey: `fuzz:${signed.user.id}`,
    description: "fuzz credit",
  });
  const auth = signed.auth;
  fake.script({ kind: "reply", text: reply } as never);
  const res = await app.fetch("/api/v1/chats", {
    method: "POST",
    headers: { "content-type": "application/json", ...auth },
    body: JSON.stringify({ text: "hello" }),
  });
  assert.equal(res.status, 200);
  const body = await res.text();
  const messageId = body.match(/"messageId":"([0-9a-f-]{36})"/)![1];
  return { auth, messageId };
}

/** Last-Event-ID values a client (or an attacker) may send. */
const hostileEventId = fc.oneof(
  fc.integer().map(String),
  fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(String),
  fc.constantFrom(
    "-1",
    "-0",
    "1e308",
    "1.5",
    "0x10",
    " 3",
    "NaN",
    "Infinity",
    "9007199254740993",
    "3\u0000",
    "\u0000",
    "",
    "99999999999999999999",
    "2147483648",
    "9007199254740991",
  ),
  nasty(40),
);

Deno.test("fuzz: resuming an answer with hostile Last-Event-IDs never fails and never shows another user's answer", async () => {
  const fake = await startFakeOpenAI();
  const app = await startTestApp({
    env: { OPENAI_API_KEY: FAKE_OPENAI_KEY, OPENAI_BASE_URL: fake.baseUrl },
  });
  try {
    await app.server.db.sql`update tiers set requests_per_minute = 1000000`;
    const mine = await userWithAnswer(app, "Mine: the baobab stands.", fake);
    const theirs = await userWithAnswer(app, "SECRET-OF-ANOTHER-USER", fake);
    await fc.assert(
      fc.asyncProperty(
        hostileEventId,
        fc.constantFrom("header", "query"),
        fc.constantFrom("mine", "theirs", "unknown"),
        async (eventId, via, whose) => {
          const id = whose === "mine"
            ? mine.messageId
            : whose === "theirs"
            ? theirs.messageId
            : crypto.randomUUID();
          const query = via === "query"
            ? `?lastEventId=${encodeURIComponent(eventId.toWellFormed())}`
            : "";
          let res: Response;
          try {
            res = await app.fetch(`/api/v1/messages/${id}/stream${query}`, {
              headers: via === "header" ? { ...mine.auth, "last-event-id": eventId } : mine.auth,
            });
          } catch (error) {
            // A header value fetch itself refuses to send (NUL, line breaks) never reaches us.
            assert.ok(error instanceof TypeError, String(error));
            return;
          }
          const text = await res.text();
          const where = `${via} ${JSON.stringify(eventId)} on ${whose}: ${res.status} ${text}`;
          assert.ok(res.status < 500, where);
          assert.doesNotMatch(text, /SECRET-OF-ANOTHER-USER/, where);
          if (whose !== "mine") assert.ok(res.status >= 400, where);
        },
      ),
      fuzzParams<[string, "header" | "query", "mine" | "theirs" | "unknown"]>({
        numRuns: fuzzParams().numRuns! * 4,
        // Past the stored sequence's integer range, on the caller's own answer.
        examples: [["2147483648", "header", "mine"], ["9007199254740991", "query", "mine"]],
      }),
    );
  } finally {
    await app.close();
    await fake.close();
  }
});
