/**
 * An answer's stream resumed on another instance than the one generating it (a balancer without
 * sticky sessions): the second app shares the first's database (and nothing else: its KV, its
 * chat runtime and its streams are its own), as two instances do. Runs on both back ends.
 */
import assert from "node:assert/strict";
import { fundedUser, startTestApp, type TestApp, waitFor } from "./harness.ts";
import { FAKE_OPENAI_KEY, type FakeOpenAI, startFakeOpenAI } from "../lib/sandbox/openai.ts";
import type { FakeModelOptions } from "../lib/sandbox/ai_common.ts";
import { pruneAnswerEvents } from "../lib/chat/answer_events.ts";
import { setChatSetting, startStream } from "../lib/chat/mod.ts";
import { deltas, readSse, type SseEvent } from "./chat_sse.ts";

interface Pair {
  a: TestApp;
  b: TestApp;
  fake: FakeOpenAI;
}

function pairTest(name: string, fake: FakeModelOptions, fn: (t: Pair) => Promise<void>) {
  Deno.test(name, async () => {
    const model = await startFakeOpenAI(fake);
    const env = { OPENAI_API_KEY: FAKE_OPENAI_KEY, OPENAI_BASE_URL: model.baseUrl };
    const a = await startTestApp({ env });
    const b = await startTestApp({ env, alongside: a });
    try {
      await fn({ a, b, fake: model });
    } finally {
      await b.close();
      await a.close();
      await model.close();
    }
  });
}

const post = (body: unknown, headers: Record<string, string>) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

/** Asks on `app` and reads the answer until `deltasSeen` deltas, then drops the connection. */
async function askAndDrop(app: TestApp, auth: Record<string, string>, deltasSeen: number) {
  const conv = await app.fetch("/api/v1/conversations", post({ mode: "chat" }, auth));
  assert.equal(conv.status, 201);
  const id = (await conv.json()).id;
  const res = await app.fetch(
    `/api/v1/conversations/${id}/messages`,
    post({ text: "Tell me about Great Zimbabwe" }, auth),
  );
  assert.equal(res.status, 200, await res.clone().text());
  let seen = 0;
  const first = await readSse(res, {
    onEvent: (e) => (e.event === "delta" ? ++seen < deltasSeen : true),
  });
  return { first, messageId: first[0].data.messageId as string };
}

const resume = (app: TestApp, auth: Record<string, string>, messageId: string, after: number) =>
  app.fetch(`/api/v1/messages/${messageId}/stream`, {
    headers: { ...auth, "last-event-id": String(after) },
  });

async function storedContent(app: TestApp, messageId: string): Promise<string> {
  const [row] = await app.server.db
    .sql`select content, status from messages where id = ${messageId}`;
  assert.equal(row.status, "complete");
  return row.content;
}

/** The events after `after`, numbered one after the other, ending with `done`. */
function assertRest(rest: SseEvent[], after: number) {
  assert.deepEqual(rest.map((e) => e.id), rest.map((_, i) => after + 1 + i), "no gap, no repeat");
  assert.equal(rest.at(-1)!.event, "done");
}

pairTest(
  "resume on another instance mid-answer: the rest once, live, with one upstream call",
  {
    deltaDelayMs: 25,
    reply: "Great Zimbabwe was built of granite blocks without mortar. ".repeat(6),
  },
  async ({ a, b, fake }) => {
    const { auth, userId } = await fundedUser(a, 100_000);
    // A generates; its reader saw the first events, then its connection was cut.
    const started = await startStream(a.server.chat, {
      userId,
      mode: "chat",
      channel: "web",
      text: "Tell me about Great Zimbabwe",
      fresh: true,
    });
    const { messageId, generation } = started;
    while (generation.entries.length < 6) await new Promise((r) => setTimeout(r, 10));
    const first = generation.entries.slice(0, 6);
    const lastId = first.at(-1)!.id;
    assert.equal(generation.finished, false, "resumed while A still generates");
    assert.equal(b.server.chat.runtime.streams.get(messageId), undefined, "B does not generate it");

    const res = await resume(b, auth, messageId, lastId);
    assert.equal(res.status, 200);
    const rest = await readSse(res);
    assertRest(rest, lastId);
    const text = [...first, ...rest].filter((e) => e.event === "delta").map((e) => e.data.text)
      .join("");
    assert.equal(text, await storedContent(a, messageId), "every delta exactly once");
    assert.equal(fake.calls("/v1/chat/completions").length, 1);
    assert.equal(b.server.chat.runtime.streams.get(messageId), undefined);

    // Once over, from the start on B: the whole answer once; still one upstream call.
    const all = await readSse(await resume(b, auth, messageId, 0));
    assertRest(all, 0);
    assert.equal(deltas(all).join(""), text);
    // And from the last event's id: nothing is repeated, the stream just ends.
    const past = await readSse(await resume(b, auth, messageId, all.at(-1)!.id));
    assert.equal(past.filter((e) => e.event === "delta").length, 0);
    assert.equal(fake.calls("/v1/chat/completions").length, 1);

    // Another user's answer is not theirs to read, on either instance.
    const { auth: other } = await fundedUser(b, 1);
    for (const app of [a, b]) {
      const res = await resume(app, other, messageId, 0);
      assert.equal(res.status, 404);
      assert.doesNotMatch(await res.text(), /Zimbabwe/);
    }
  },
);

pairTest(
  "stored events are pruned a while after the answer's end; a late resume then says how it ended",
  { reply: "Short answer." },
  async ({ a, b }) => {
    const { auth } = await fundedUser(a, 100_000);
    const { messageId } = await askAndDrop(a, auth, 1_000);
    // The reader may see `done` before the store's write of it (at once, but in the background).
    const n = await waitFor("the answer's last event stored", async () => {
      const [row] = await a.server.db.sql<{ n: number; done: boolean }[]>`
        select count(*)::int as n, bool_or(event = 'done') as done from answer_events
        where message_id = ${messageId}`;
      return row.done && row.n;
    }, 5_000);
    assert.ok(n >= 3, `start, deltas, usage and done stored (${n})`);
    assert.equal(await pruneAnswerEvents(a.server.db), 0, "kept while recent");
    assert.equal(await pruneAnswerEvents(a.server.db, 0), n);
    const late = await readSse(await resume(b, auth, messageId, 2));
    assert.equal(late.length, 1);
    assert.equal(late[0].event, "done");
    assert.equal(late[0].data.expired, true);
  },
);

pairTest(
  "a reader following from another instance keeps the answer going past its grace period",
  { deltaDelayMs: 30, reply: "Mapungubwe traded gold with the coast. ".repeat(24) },
  async ({ a, b, fake }) => {
    const { auth, userId } = await fundedUser(a, 100_000);
    await setChatSetting(a.server.db.sql, "streamGraceSeconds", 1.5);
    await new Promise((r) => setTimeout(r, 1_100)); // the settings cache
    // Nobody reads on A: only B's reader is there, far longer than the grace period.
    const { messageId, generation } = await startStream(a.server.chat, {
      userId,
      mode: "chat",
      channel: "web",
      text: "Tell me about Mapungubwe",
      fresh: true,
    });
    const all = await readSse(await resume(b, auth, messageId, 0));
    assertRest(all, 0);
    assert.equal(all.at(-1)!.data.status, "complete");
    assert.equal(deltas(all).join(""), await storedContent(a, messageId));
    assert.equal(generation.finished, true);
    assert.equal(fake.calls("/v1/chat/completions").length, 1);
  },
);
