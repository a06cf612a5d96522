/**
 * The AI chat end to end against the fake OpenAI-compatible server (lib/sandbox/openai.ts):
 * context and memory, essays, metering, failures, the stored key, SSE streaming with resume and
 * the grace period. Runs on whichever database back end the run uses.
 */
import assert from "node:assert/strict";
import { closing, fundedUser, startTestApp, type TestApp, waitFor } from "./harness.ts";
import { type ChatApp, chatOnWhatsApp, startChatApp } from "./chat_app.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../lib/sandbox/openai.ts";
import type { FakeModelOptions } from "../lib/sandbox/ai_common.ts";
import { post } from "../lib/wallet/ledger.ts";
import { deltas, readSse } from "./chat_sse.ts";
import { collectGarbage } from "./gc.ts";
import {
  answerOnce,
  type ChatServices,
  resetConversation,
  setChatSetting,
} from "../lib/chat/mod.ts";

export interface ChatSetup extends ChatApp {
  fake: FakeOpenAI;
  services: ChatServices;
}

export async function setupChat(
  options: { fake?: FakeModelOptions; env?: Record<string, string> } = {},
): Promise<ChatSetup> {
  const chat = await startChatApp({ model: options.fake, env: options.env });
  return closing({ ...chat, fake: chat.openai, services: chat.app.server.chat });
}

/** Counts the model calls started from now on (one stopped at once may never reach the fake). */
async function countModelCalls(t: ChatSetup): Promise<() => number> {
  const ai = (await t.services.runtime.ai.active())!;
  const stream = ai.provider.stream.bind(ai.provider);
  let started = 0;
  ai.provider.stream = (...args) => (started++, stream(...args));
  return () => started;
}

/**
 * A funded user's essay, answered and paid for; `started()` then counts the model calls: for
 * tests of what a change made elsewhere does to the next answer (`ask()` again).
 */
async function afterOnePaidAnswer(t: ChatSetup) {
  const user = await fundedUser(t.app, 1_000_000);
  const ask = () =>
    answerOnce(t.services, {
      userId: user.userId,
      mode: "essay",
      channel: "api",
      text: "Tell me more.",
    });
  const first = await ask();
  assert.ok(first.ok, JSON.stringify(first));
  const balance = await balanceOf(t.app, user.userId);
  return { ...user, ask, balance, started: await countModelCalls(t) };
}

/** A test with its own app and fake upstream (setupChat), closed whatever happens. */
function chatTest(
  name: string,
  ...args:
    | [(t: ChatSetup) => Promise<void>]
    | [Parameters<typeof setupChat>[0], (t: ChatSetup) => Promise<void>]
) {
  const [options, fn] = args.length === 1 ? [undefined, args[0]] : args;
  Deno.test(name, async () => {
    await using t = await setupChat(options);
    await fn(t);
  });
}

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

export async function balanceOf(app: TestApp, userId: string) {
  const [row] = await app.server.db.sql`select balance, reserved from ledger_accounts
                                        where user_id = ${userId}`;
  return { balance: Number(row.balance), reserved: Number(row.reserved) };
}

type ChatBody = { messages: Array<{ role: string; content: string }>; max_tokens?: number };
const sent = (fake: FakeOpenAI, i: number) =>
  fake.calls("/v1/chat/completions")[i].body as ChatBody;

chatTest(
  "answerOnce: a chat of 3 turns sends the earlier turns; an essay sends none; reset starts afresh",
  async (t) => {
    const { userId } = await fundedUser(t.app, 100_000);
    const ask = (text: string, mode: "chat" | "essay" = "chat") =>
      answerOnce(t.services, { userId, mode, channel: "whatsapp", text });

    const first = await ask("What is the capital of Zimbabwe?");
    assert.ok(first.ok, JSON.stringify(first));
    const second = await ask("And its population?");
    const third = await ask("Name one famous landmark there.");
    assert.ok(second.ok && third.ok);
    assert.equal(second.conversationId, first.conversationId);
    assert.equal(third.conversationId, first.conversationId);
    const thirdCall = sent(t.fake, 2).messages;
    assert.deepEqual(thirdCall.map((m) => m.role), [
      "system",
      "user",
      "assistant",
      "user",
      "assistant",
      "user",
    ]);
    assert.equal(thirdCall[1].content, "What is the capital of Zimbabwe?");
    assert.equal(thirdCall[2].content, first.text);
    assert.equal(thirdCall[4].content, second.text);
    assert.equal(thirdCall[5].content, "Name one famous landmark there.");

    const essay = await ask("Discuss the causes of the First Chimurenga.", "essay");
    assert.ok(essay.ok);
    assert.notEqual(essay.conversationId, first.conversationId);
    const essayCall = sent(t.fake, 3).messages;
    assert.deepEqual(essayCall.map((m) => m.role), ["system", "user"]);
    assert.match(essayCall[0].content, /essay/i);
    assert.notEqual(essayCall[0].content, thirdCall[0].content);

    // An essay never continues: the next essay is a fresh conversation too.
    const essay2 = await ask("Explain photosynthesis.", "essay");
    assert.ok(essay2.ok);
    assert.notEqual(essay2.conversationId, essay.conversationId);
    assert.equal(sent(t.fake, 4).messages.length, 2);

    await resetConversation(t.services, userId, "whatsapp");
    const fresh = await ask("Hello again");
    assert.ok(fresh.ok);
    assert.notEqual(fresh.conversationId, first.conversationId);
    assert.equal(sent(t.fake, 5).messages.length, 2);
  },
);

chatTest("answerOnce: a conversation idles out after the TTL", async (t) => {
  const { userId } = await fundedUser(t.app, 100_000);
  const first = await chatOnWhatsApp(t.services, userId, "Hi");
  assert.ok(first.ok);
  await setChatSetting(t.app.server.db.sql, "idleTtlMinutes", 10);
  await t.app.server.db.sql`update conversations
    set last_activity_at = now() - interval '11 minutes' where id = ${first.conversationId}`;
  await new Promise((r) => setTimeout(r, 1_100)); // the settings cache
  const later = await chatOnWhatsApp(t.services, userId, "Still there?");
  assert.ok(later.ok);
  assert.notEqual(later.conversationId, first.conversationId);
  assert.equal(sent(t.fake, 1).messages.length, 2);
});

chatTest(
  "answerOnce: billing is the fake's reported usage × price; the balance drops by it",
  async (t) => {
    const { userId } = await fundedUser(t.app, 50_000);
    await t.app.server.db.sql`update ai_configs
    set price_input_per_1k = 500, price_output_per_1k = 2000 where is_default`;
    await new Promise((r) => setTimeout(r, 1_100)); // the configuration cache
    const result = await answerOnce(t.services, {
      userId,
      mode: "chat",
      channel: "api",
      text: "Tell me about Great Zimbabwe.",
    });
    assert.ok(result.ok, JSON.stringify(result));
    const call = t.fake.calls("/v1/chat/completions")[0];
    // The fake's own usage (its token count differs from gpt-tokenizer on purpose).
    const { fakePromptTokens } = await import("../lib/sandbox/openai.ts");
    const prompt = fakePromptTokens((call.body as ChatBody).messages);
    const completion = call.deltasSent;
    const expected = Math.ceil((prompt * 500 + completion * 2000) / 1000);
    assert.equal(result.cost, expected);
    assert.deepEqual(await balanceOf(t.app, userId), { balance: 50_000 - expected, reserved: 0 });
    assert.equal(result.balance, 50_000 - expected);
    const [m] = await t.app.server.db.sql`select * from messages where id = ${result.messageId}`;
    assert.equal(m.status, "complete");
    assert.equal(m.model, "gpt-4o-mini");
    assert.equal(m.tokens_in, prompt);
    assert.equal(m.tokens_out, completion);
    assert.equal(Number(m.cost), expected);
    assert.equal(m.usage_estimated, false);
    assert.ok(m.latency_ms >= 0 && m.ttft_ms >= 0 && m.ttft_ms <= m.latency_ms);
    assert.equal(m.content, result.text);
  },
);

chatTest(
  "answerOnce: too few tokens → insufficient_funds with the top-up URL; no conversation started",
  async (t) => {
    const { userId } = await fundedUser(t.app, 10);
    const result = await chatOnWhatsApp(t.services, userId, "Hello");
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.code === "insufficient_funds");
    assert.match(result.userMessage, /top up at http:\/\/127\.0\.0\.1:\d+\/account/i);
    assert.equal(t.fake.calls("/v1/chat/completions").length, 0);
    const kept = await t.app.server.db.sql`select role, content from messages
                                         where user_id = ${userId}`;
    assert.deepEqual(kept.map((r) => [r.role, r.content]), [], "nothing to continue: not kept");
    assert.deepEqual(await balanceOf(t.app, userId), { balance: 10, reserved: 0 });
  },
);

chatTest(
  "a wallet emptied elsewhere since the last answer: refused 402 before any model call, unbilled",
  async (t) => {
    const { userId, ask, balance: paid, started } = await afterOnePaidAnswer(t);

    // The wallet is emptied elsewhere (an admin's correction), just after an answer it paid for.
    const admin = await fundedUser(t.app);
    await post(t.app.server.db.sql, {
      userId,
      adminId: admin.userId,
      kind: "admin_adjustment",
      delta: -(paid.balance - 5),
      idempotencyKey: `drain:${userId}`,
      description: "test drain",
    });
    const refused = await ask();
    assert.ok(!refused.ok && refused.code === "insufficient_funds", JSON.stringify(refused));
    assert.equal(started(), 0, "no model call started");
    assert.deepEqual(await balanceOf(t.app, userId), { balance: 5, reserved: 0 });
  },
);

chatTest(
  "an account disabled elsewhere gets no answer and no model call",
  async (t) => {
    const { userId, auth, ask, balance: before, started } = await afterOnePaidAnswer(t);

    // Disabled elsewhere (another process, SQL): the answer's own read of the account refuses.
    await t.app.server.db.sql`update users set disabled_at = now() where id = ${userId}`;
    const refused = await ask();
    assert.deepEqual(refused, {
      ok: false,
      code: "account_disabled",
      userMessage: "This account is disabled. Contact support to restore it.",
    });
    assert.equal(started(), 0, "no model call started");
    assert.deepEqual(await balanceOf(t.app, userId), before, "nothing billed or held");

    // Over HTTP: refused at sign-in, at the next request.
    const res = await t.app.fetch("/api/v1/essays", json({ text: "And now?" }, auth));
    assert.equal(res.status, 403);
    assert.match((await res.json()).error.message, /This account is disabled/);
  },
);

// ---- over HTTP: SSE --------------------------------------------------------------------------

chatTest("GET /metrics counts the streamed answers being generated", async (t) => {
  const { auth } = await fundedUser(t.app, 1_000_000);
  const generating = async () => {
    const text = await (await t.app.fetch("/metrics")).text();
    return Number(/^hurukuro_chat_streams_generating (\d+)$/m.exec(text)?.[1]);
  };
  assert.equal(await generating(), 0);
  t.fake.script({ kind: "reply", firstTokenDelayMs: 2_000 });
  const res = await t.app.fetch("/api/v1/essays", json({ text: "Take your time." }, auth));
  assert.equal(res.status, 200);
  assert.equal(await generating(), 1, "the model is still thinking");
  await res.text(); // to its `done`
  assert.equal(await generating(), 0);
});

async function newConversation(app: TestApp, auth: Record<string, string>, mode = "chat") {
  const res = await app.fetch("/api/v1/conversations", json({ mode }, auth));
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()).id as string;
}

function askHttp(app: TestApp, auth: Record<string, string>, conversationId: string, text: string) {
  return app.fetch(`/api/v1/conversations/${conversationId}/messages`, json({ text }, auth));
}

async function messageRow(app: TestApp, id: string) {
  const [m] = await app.server.db.sql`select * from messages where id = ${id}`;
  return m;
}

/** Waits for the answer to end, which must be an abort that closed its upstream request. */
async function abortedAnswer(t: ChatSetup, messageId: string) {
  const stored = await waitFor("the answer to stop", async () => {
    const m = await messageRow(t.app, messageId);
    return m.status !== "streaming" && m;
  });
  assert.equal(stored.status, "aborted");
  const call = t.fake.calls("/v1/chat/completions")[0];
  assert.equal(await call.closed, "disconnected", "the upstream request was aborted");
  return { stored, call };
}

chatTest("SSE: start, deltas in order, usage, done — each with an id; the answer is stored", {
  fake: { deltaDelayMs: 1 },
}, async (t) => {
  const { userId, auth } = await fundedUser(t.app, 100_000);
  const id = await newConversation(t.app, auth);
  const res = await askHttp(t.app, auth, id, "How do I grow maize in Masvingo?");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
  const events = await readSse(res);
  assert.deepEqual(events.map((e) => e.id), events.map((_, i) => i + 1));
  assert.equal(events[0].event, "start");
  assert.deepEqual(events.slice(-2).map((e) => e.event), ["usage", "done"]);
  const parts = deltas(events);
  assert.ok(parts.length > 10);
  const text = parts.join("");
  assert.match(text, /^You asked: "How do I grow maize in Masvingo\?"/);
  const messageId = events[0].data.messageId as string;
  assert.equal(res.headers.get("content-location"), `/api/v1/messages/${messageId}/stream`);
  const stored = await messageRow(t.app, messageId);
  assert.equal(stored.content, text);
  assert.equal(stored.status, "complete");
  const usage = events.at(-2)!.data;
  assert.equal(usage.cost, Number(stored.cost));
  assert.equal(usage.balance, (await balanceOf(t.app, userId)).balance);
  assert.equal(usage.balance, 100_000 - Number(stored.cost));
  // The fake streamed exactly these pieces, in this order.
  assert.equal(t.fake.calls("/v1/chat/completions")[0].deltasSent, parts.length);

  const conv = await (await t.app.fetch(`/api/v1/conversations/${id}`, { headers: auth }))
    .json();
  assert.deepEqual(conv.messages.map((m: { role: string }) => m.role), ["user", "assistant"]);
  assert.equal(conv.messages[1].content, text);
});

chatTest(
  "SSE: disconnect after 5 deltas, reconnect with Last-Event-ID → the rest, once; one upstream call",
  { fake: { deltaDelayMs: 15 } },
  async (t) => {
    const { auth } = await fundedUser(t.app, 100_000);
    const id = await newConversation(t.app, auth);
    const res = await askHttp(t.app, auth, id, "Tell me a story about Mbuya Nehanda");
    let seen = 0;
    const first = await readSse(res, {
      onEvent: (e) => (e.event === "delta" ? ++seen < 5 : true),
    });
    const messageId = first[0].data.messageId as string;
    const lastId = first.at(-1)!.id;
    assert.equal(deltas(first).length, 5);

    await new Promise((r) => setTimeout(r, 60)); // a few more deltas are generated meanwhile
    const again = await t.app.fetch(`/api/v1/messages/${messageId}/stream`, {
      headers: { ...auth, "last-event-id": String(lastId) },
    });
    assert.equal(again.status, 200);
    const rest = await readSse(again);
    assert.equal(rest[0].id, lastId + 1, "continues right after the last event seen");
    assert.deepEqual(rest.map((e) => e.id), rest.map((_, i) => lastId + 1 + i));
    assert.equal(rest.at(-1)!.event, "done");
    const text = [...deltas(first), ...deltas(rest)].join("");
    const stored = await messageRow(t.app, messageId);
    assert.equal(text, stored.content, "every delta exactly once");
    assert.equal(t.fake.calls("/v1/chat/completions").length, 1);

    // Later, from the stored events alone (as another instance would): same answer.
    t.services.runtime.streams.live.delete(messageId);
    const fromStore = await readSse(
      await t.app.fetch(`/api/v1/messages/${messageId}/stream?lastEventId=0`, { headers: auth }),
    );
    assert.equal(deltas(fromStore).join(""), stored.content);
    assert.equal(fromStore.at(-1)!.event, "done");
    assert.equal(t.fake.calls("/v1/chat/completions").length, 1);

    const missing = await t.app.fetch(`/api/v1/messages/${crypto.randomUUID()}/stream`, {
      headers: auth,
    });
    assert.equal(missing.status, 404);
  },
);

chatTest(
  "SSE: no reconnect within the grace period → upstream aborted, only what was generated billed",
  {
    fake: { deltaDelayMs: 40, reply: "word ".repeat(400).trim() },
  },
  async (t) => {
    const { userId, auth } = await fundedUser(t.app, 100_000);
    await setChatSetting(t.app.server.db.sql, "streamGraceSeconds", 0.3);
    await new Promise((r) => setTimeout(r, 1_100)); // the settings cache
    const id = await newConversation(t.app, auth);
    let seen = 0;
    const first = await readSse(await askHttp(t.app, auth, id, "Talk for a long time"), {
      onEvent: (e) => (e.event === "delta" ? ++seen < 5 : true),
    });
    const messageId = first[0].data.messageId as string;
    const { stored, call } = await abortedAnswer(t, messageId);
    assert.ok(call.deltasSent < 400, `stopped early (${call.deltasSent} of 400)`);
    assert.ok(stored.content.length > 0 && "word ".repeat(400).startsWith(stored.content));
    const { countTextTokens } = await import("../lib/ai/mod.ts");
    assert.equal(stored.tokens_out, countTextTokens(stored.content));
    assert.equal(stored.usage_estimated, true);
    const cost = Number(stored.cost);
    assert.equal(cost, Math.ceil((stored.tokens_in * 1000 + stored.tokens_out * 1000) / 1000));
    assert.ok(cost < stored.tokens_in + 400, "less than the whole answer");
    assert.deepEqual(await balanceOf(t.app, userId), { balance: 100_000 - cost, reserved: 0 });
  },
);

chatTest(
  "SSE: a reader who leaves while the model is still thinking → the call is aborted after the grace period, across garbage collections",
  // The first token would come after a minute: only the abort can end this call in time.
  { fake: { firstTokenDelayMs: 120_000 } },
  async (t) => {
    const { userId, auth } = await fundedUser(t.app, 100_000);
    await setChatSetting(t.app.server.db.sql, "streamGraceSeconds", 0.3);
    await new Promise((r) => setTimeout(r, 1_100)); // the settings cache
    const id = await newConversation(t.app, auth);
    const events = await readSse(await askHttp(t.app, auth, id, "Think hard"), {
      onEvent: (e) => e.event !== "start",
    });
    const messageId = events[0].data.messageId as string;
    // What keeps the call abortable must not be garbage (lib/ai/fetch.ts, READ_THROUGH).
    await collectGarbage();
    const { stored, call } = await abortedAnswer(t, messageId);
    assert.equal(call.deltasSent, 0);
    assert.equal(stored.tokens_out, 0);
    assert.deepEqual(await balanceOf(t.app, userId), {
      balance: 100_000 - Number(stored.cost),
      reserved: 0,
    });
  },
);

chatTest("SSE: the stop button stops the answer and bills what was generated", {
  fake: { deltaDelayMs: 30, reply: "step ".repeat(300).trim() },
}, async (t) => {
  const { userId, auth } = await fundedUser(t.app, 100_000);
  const id = await newConversation(t.app, auth);
  let seen = 0;
  let messageId = "";
  const events = await readSse(await askHttp(t.app, auth, id, "Count steps"), {
    onEvent: (e) => {
      if (e.event === "start") messageId = e.data.messageId as string;
      if (e.event === "delta" && ++seen === 3) {
        t.app.fetch(`/api/v1/messages/${messageId}/stop`, json({}, auth)).then((r) =>
          r.body?.cancel()
        );
      }
    },
  });
  const done = events.at(-1)!;
  assert.equal(done.event, "done");
  assert.equal(done.data.status, "aborted");
  const usage = events.at(-2)!.data;
  const stored = await messageRow(t.app, messageId);
  assert.equal(stored.status, "aborted");
  assert.equal(usage.cost, Number(stored.cost));
  assert.equal(deltas(events).join(""), stored.content);
  assert.ok(Number(stored.cost) > 0);
  assert.deepEqual(await balanceOf(t.app, userId), {
    balance: 100_000 - Number(stored.cost),
    reserved: 0,
  });
});

chatTest(
  "a failed call bills nothing and releases the reservation; the user's message is kept",
  async (t) => {
    const { userId, auth } = await fundedUser(t.app, 100_000);
    const id = await newConversation(t.app, auth);
    t.fake.script(
      { kind: "server_error" },
      { kind: "server_error", status: 503 },
      { kind: "server_error" },
    );
    const events = await readSse(await askHttp(t.app, auth, id, "Are you there?"));
    const last = events.at(-1)!;
    assert.equal(last.event, "error");
    assert.equal(last.data.code, "unavailable");
    assert.equal(
      last.data.message,
      "I'm having trouble connecting right now. Please try again in a moment.",
    );
    assert.equal(t.fake.calls("/v1/chat/completions").length, 3, "retried, then gave up");
    assert.deepEqual(await balanceOf(t.app, userId), { balance: 100_000, reserved: 0 });
    const rows = await t.app.server.db.sql`
    select m.role, m.content, m.status, m.cost, r.status as reservation
    from messages m left join reservations r on r.id = m.reservation_id
    where m.conversation_id = ${id} order by m.created_at, m.role desc`;
    assert.deepEqual(rows.map((r) => [r.role, r.content, r.status]), [
      ["user", "Are you there?", "complete"],
      ["assistant", "", "error"],
    ]);
    assert.equal(rows[1].reservation, "released");
    assert.equal(Number(rows[1].cost), 0);

    // Cut mid-way: the partial answer was shown, the failure is reported, nothing billed.
    t.fake.script({ kind: "cut", afterDeltas: 4 });
    const cut = await readSse(await askHttp(t.app, auth, id, "Again?"));
    assert.equal(deltas(cut).length, 4);
    assert.equal(cut.at(-1)!.event, "error");
    assert.deepEqual(await balanceOf(t.app, userId), { balance: 100_000, reserved: 0 });
  },
);

chatTest("429 then success → one answer, retried after retry-after", async (t) => {
  const { auth } = await fundedUser(t.app, 100_000);
  const id = await newConversation(t.app, auth);
  t.fake.script({ kind: "rate_limit", retryAfterMs: 300 });
  const events = await readSse(await askHttp(t.app, auth, id, "Hello"));
  const calls = t.fake.calls("/v1/chat/completions");
  assert.equal(calls.length, 2);
  assert.equal(calls[0].status, 429);
  assert.ok(calls[1].at - calls[0].at >= 290, "waited as asked");
  assert.equal(events.filter((e) => e.event === "start").length, 1);
  assert.equal(events.at(-1)!.event, "done");
  assert.match(deltas(events).join(""), /^You asked: "Hello"/);
  const [{ n }] = await t.app.server.db.sql`select count(*)::int as n from ledger_entries
    where kind = 'usage_debit'`;
  assert.equal(n, 1, "billed once");
});

chatTest("402 with a human message and the top-up URL when the balance is too low", async (t) => {
  const { auth } = await fundedUser(t.app, 5);
  const id = await newConversation(t.app, auth);
  const res = await askHttp(t.app, auth, id, "Hello");
  assert.equal(res.status, 402);
  const body = await res.json();
  assert.equal(body.error.code, "insufficient_balance");
  assert.match(body.error.message, /enough tokens/);
  assert.match(body.error.details.topUpUrl, /\/account/);
  assert.equal(t.fake.calls("/v1/chat/completions").length, 0);
  const essay = await t.app.fetch("/api/v1/essays", json({ text: "Essay please" }, auth));
  assert.equal(essay.status, 402);
});

Deno.test("the stored API key is unreadable in a dump of ai_configs and absent from every answer", async () => {
  const secretKey = "sk-proj-VerySecretKey-" + crypto.randomUUID();
  const fake = await startFakeOpenAI({ apiKey: secretKey });
  const app = await startTestApp({
    env: { OPENAI_API_KEY: secretKey, OPENAI_BASE_URL: fake.baseUrl },
  });
  try {
    const dump = await app.server.db.sql`select * from ai_configs`;
    assert.equal(dump.length, 1);
    const text = JSON.stringify(dump);
    assert.ok(!text.includes(secretKey));
    assert.ok(!text.includes("VerySecretKey"));
    assert.match(dump[0].api_key_encrypted, /^v1\./);

    const { userId, auth } = await fundedUser(app, 100_000);
    const bodies: string[] = [];
    const get = async (path: string, init?: RequestInit) => {
      const res = await app.fetch(path, init);
      bodies.push(await res.text() + JSON.stringify([...res.headers]));
    };
    const id = await newConversation(app, auth);
    await get(`/api/v1/conversations/${id}/messages`, json({ text: "hi" }, auth));
    await get("/api/v1/essays", json({ text: "an essay" }, auth));
    await get("/api/v1/conversations", { headers: auth });
    await get(`/api/v1/conversations/${id}`, { headers: auth });
    await get("/api/v1/me", { headers: auth });
    await get("/api/v1/wallet", { headers: auth });
    await get("/api/openapi.json");
    await get("/health");
    await get("/chat", { headers: auth });
    assert.ok(bodies.join("").includes("You asked"), "the answers really came back");
    for (const body of bodies) assert.ok(!body.includes(secretKey));
    assert.ok(!app.logs.join("\n").includes(secretKey), "never logged");
    assert.ok(fake.calls("/v1/chat/completions").length >= 2);
    assert.ok(userId);
  } finally {
    await app.close();
    await fake.close();
  }
});

chatTest("a long history is trimmed to the budget, newest turns kept", async (t) => {
  const { userId } = await fundedUser(t.app, 1_000_000);
  const sql = t.app.server.db.sql;
  await sql`update ai_configs set context_tokens = 400 where is_default`;
  await new Promise((r) => setTimeout(r, 1_100)); // the configuration cache
  const first = await chatOnWhatsApp(t.services, userId, "turn 0");
  assert.ok(first.ok);
  for (let i = 1; i <= 30; i++) {
    await sql`insert into messages (conversation_id, user_id, role, content, channel, mode,
                                    created_at)
              values (${first.conversationId}, ${userId}, 'user',
                      ${`question ${i}: ` + "lorem ipsum ".repeat(10)}, 'whatsapp', 'chat',
                      now() + ${i} * interval '1 second'),
                     (${first.conversationId}, ${userId}, 'assistant',
                      ${`answer ${i}: ` + "dolor sit amet ".repeat(10)}, 'whatsapp', 'chat',
                      now() + ${i} * interval '1 second' + interval '1 millisecond')`;
  }
  const result = await chatOnWhatsApp(t.services, userId, "the newest question");
  assert.ok(result.ok);
  assert.equal(result.conversationId, first.conversationId);
  const messages = sent(t.fake, 1).messages;
  const { estimateTokens } = await import("../lib/ai/mod.ts");
  assert.ok(estimateTokens(messages as never) <= 400, `${estimateTokens(messages as never)}`);
  assert.ok(messages.length > 4 && messages.length < 62, `${messages.length} kept`);
  assert.equal(messages[0].role, "system");
  assert.equal(messages[1].role, "user", "history starts with a user turn");
  assert.equal(messages.at(-1)!.content, "the newest question");
  assert.match(messages.at(-2)!.content, /^answer 30:/, "the newest turn is kept");
  assert.ok(!messages.some((m) => m.content === "turn 0"), "the oldest is dropped");
});

Deno.test("the sandbox answers when no AI is configured", async () => {
  await using app = await startTestApp();
  assert.ok(app.server.config.sandboxed.includes("ai"));
  const { userId } = await fundedUser(app, 100_000);
  const result = await answerOnce(app.server.chat, {
    userId,
    mode: "essay",
    channel: "api",
    text: "What is the sandbox?",
  });
  assert.ok(result.ok, JSON.stringify(result));
  assert.match(result.text, /sandbox/);
});

Deno.test("not configured → a clear refusal, no stack trace", async () => {
  await using app = await startTestApp({ env: { SANDBOX: "0" } });
  const { userId, auth } = await fundedUser(app, 100_000);
  const result = await chatOnWhatsApp(app.server.chat, userId, "Hello?");
  assert.deepEqual(result, {
    ok: false,
    code: "not_configured",
    userMessage: "The service is temporarily unavailable. Please contact support.",
  });
  const res = await app.fetch("/api/v1/essays", json({ text: "x" }, auth));
  assert.equal(res.status, 503);
  assert.equal((await res.json()).error.message, result.userMessage);
});

Deno.test("an answer left streaming by a dead process is marked failed at the next start", async () => {
  const { prepareStorage } = await import("./harness.ts");
  const storage = await prepareStorage();
  try {
    let app = await startTestApp({ storage });
    const { userId } = await fundedUser(app);
    const sql = app.server.db.sql;
    const [c] = await sql`insert into conversations (user_id, mode) values (${userId}, 'chat')
                          returning id`;
    await sql`insert into messages (conversation_id, user_id, role, status, mode, created_at)
              values (${c.id}, ${userId}, 'assistant', 'streaming', 'chat',
                      now() - interval '1 hour'),
                     (${c.id}, ${userId}, 'assistant', 'streaming', 'chat', now())`;
    await app.close();
    app = await startTestApp({ storage });
    try {
      const rows = await app.server.db.sql`select status, error_code from messages
                                           order by created_at`;
      assert.deepEqual(rows.map((r) => [r.status, r.error_code]), [
        ["error", "interrupted"],
        ["streaming", null],
      ]);
    } finally {
      await app.close();
    }
  } finally {
    await storage.cleanup();
  }
});

chatTest(
  "conversations over HTTP: essays, list, reset, close, and other people's are 404",
  async (t) => {
    const { auth } = await fundedUser(t.app, 100_000);
    const other = await fundedUser(t.app, 100_000);
    const essay = await readSse(
      await t.app.fetch("/api/v1/essays", json({ text: "The history of Harare" }, auth)),
    );
    assert.equal(essay[0].data.mode, "essay");
    assert.equal(essay.at(-1)!.event, "done");
    assert.deepEqual(sent(t.fake, 0).messages.map((m) => m.role), ["system", "user"]);

    const chatId = await newConversation(t.app, auth);
    await readSse(await askHttp(t.app, auth, chatId, "first"));
    const list = await (await t.app.fetch("/api/v1/conversations", { headers: auth })).json();
    assert.deepEqual(list.conversations.map((c: { mode: string }) => c.mode), ["chat", "essay"]);
    assert.equal(list.conversations[0].title, "first");

    // Asking again in the essay conversation starts a new essay.
    const essayId = essay[0].data.conversationId as string;
    const again = await readSse(await askHttp(t.app, auth, essayId, "Another essay"));
    assert.notEqual(again[0].data.conversationId, essayId);
    assert.equal(again[0].data.mode, "essay");

    // Someone else's conversation and answer do not exist for this user.
    assert.equal((await askHttp(t.app, other.auth, chatId, "mine?")).status, 404);
    assert.equal(
      (await t.app.fetch(`/api/v1/conversations/${chatId}`, { headers: other.auth })).status,
      404,
    );
    const messageId = again[0].data.messageId as string;
    assert.equal(
      (await t.app.fetch(`/api/v1/messages/${messageId}/stream`, { headers: other.auth })).status,
      404,
    );
    assert.equal(
      (await t.app.fetch(`/api/v1/messages/${messageId}/stop`, json({}, other.auth))).status,
      404,
    );
    const stop = await t.app.fetch(`/api/v1/messages/${messageId}/stop`, json({}, auth));
    assert.deepEqual(await stop.json(), { status: "finished" });

    // Closing a chat: the next message to it continues in a new conversation, without memory.
    assert.equal(
      (await t.app.fetch(`/api/v1/conversations/${chatId}/close`, json({}, auth))).status,
      204,
    );
    const after = await readSse(await askHttp(t.app, auth, chatId, "second"));
    assert.notEqual(after[0].data.conversationId, chatId);
    assert.equal(sent(t.fake, 3).messages.length, 2);

    assert.equal((await t.app.fetch("/api/v1/conversations/reset", json({}, auth))).status, 204);
    const open = await t.app.server.db.sql`select count(*)::int as n from conversations c
    join users u on u.id = c.user_id where c.closed_at is null and u.id <> ${other.userId}`;
    assert.equal(open[0].n, 0);

    const empty = await askHttp(t.app, auth, chatId, "   ");
    assert.equal(empty.status, 400);
  },
);

chatTest(
  "the tier's daily cap refuses with 429 and a sentence; kept where it continues a conversation",
  async (t) => {
    const { userId, auth } = await fundedUser(t.app, 1_000_000);
    await t.app.server.db.sql`update tiers set daily_token_cap = 500 where name = 'free'`;
    const id = await newConversation(t.app, auth);
    const res = await askHttp(t.app, auth, id, "Hello");
    assert.equal(res.status, 429);
    const body = await res.json();
    assert.match(body.error.message, /of your 500 tokens for today/);
    assert.equal(body.error.details.reason, "cap_reached");
    const once = await chatOnWhatsApp(t.services, userId, "Hi");
    assert.equal(once.ok, false);
    assert.ok(!once.ok && once.code === "cap_reached");
    const kept = await t.app.server.db.sql`select count(*)::int as n from messages
                                         where user_id = ${userId} and role = 'user'`;
    assert.equal(
      kept[0].n,
      1,
      "kept in the conversation asked in; WhatsApp's had none to continue",
    );
    assert.equal(t.fake.calls("/v1/chat/completions").length, 0);
  },
);
