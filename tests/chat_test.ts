/**
 * The AI chat end to end against the fake OpenAI-compatible server (tests/fakes/openai.ts):
 * context and memory, essays, metering, failures, the stored key, SSE streaming with resume and
 * the grace period. Runs on whichever database back end the run uses.
 */
import assert from "node:assert/strict";
import { startTestApp, type TestApp } from "./harness.ts";
import { FAKE_OPENAI_KEY, type FakeOpenAI, startFakeOpenAI } from "./fakes/openai.ts";
import type { FakeModelOptions } from "./fakes/ai_common.ts";
import { post } from "../lib/wallet/ledger.ts";
import {
  answerOnce,
  type ChatServices,
  resetConversation,
  setChatSetting,
} from "../lib/chat/mod.ts";

export interface ChatSetup {
  app: TestApp;
  fake: FakeOpenAI;
  services: ChatServices;
  close(): Promise<void>;
}

export async function setupChat(
  options: { fake?: FakeModelOptions; env?: Record<string, string> } = {},
): Promise<ChatSetup> {
  const fake = await startFakeOpenAI(options.fake);
  const app = await startTestApp({
    env: { OPENAI_API_KEY: FAKE_OPENAI_KEY, OPENAI_BASE_URL: fake.baseUrl, ...options.env },
  });
  const { db, kv, log, config } = app.server;
  return {
    app,
    fake,
    services: { db, kv, log, config },
    async close() {
      await app.close();
      await fake.close();
    },
  };
}

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

export async function signup(app: TestApp, tokens = 0) {
  const res = await app.fetch(
    "/api/v1/auth/signup",
    json({ email: `c-${crypto.randomUUID()}@example.com`, password: "correct horse" }),
  );
  assert.equal(res.status, 201, await res.clone().text());
  const body = await res.json();
  if (tokens > 0) await credit(app, body.user.id, tokens);
  return {
    userId: body.user.id as string,
    auth: { authorization: `Bearer ${body.accessToken}` },
  };
}

export async function credit(app: TestApp, userId: string, tokens: number) {
  await post(app.server.db.sql, {
    userId,
    kind: "purchase_credit",
    delta: tokens,
    idempotencyKey: `test-credit:${crypto.randomUUID()}`,
    description: "test credit",
  });
}

export async function balanceOf(app: TestApp, userId: string) {
  const [row] = await app.server.db.sql`select balance, reserved from ledger_accounts
                                        where user_id = ${userId}`;
  return { balance: Number(row.balance), reserved: Number(row.reserved) };
}

type ChatBody = { messages: Array<{ role: string; content: string }>; max_tokens?: number };
const sent = (fake: FakeOpenAI, i: number) =>
  fake.calls("/v1/chat/completions")[i].body as ChatBody;

Deno.test("answerOnce: a chat of 3 turns sends the earlier turns; an essay sends none; reset starts afresh", async () => {
  const t = await setupChat();
  try {
    const { userId } = await signup(t.app, 100_000);
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
  } finally {
    await t.close();
  }
});

Deno.test("answerOnce: a conversation idles out after the TTL", async () => {
  const t = await setupChat();
  try {
    const { userId } = await signup(t.app, 100_000);
    const first = await answerOnce(t.services, {
      userId,
      mode: "chat",
      channel: "whatsapp",
      text: "Hi",
    });
    assert.ok(first.ok);
    await setChatSetting(t.app.server.db.sql, "idleTtlMinutes", 10);
    await t.app.server.db.sql`update conversations
      set last_activity_at = now() - interval '11 minutes' where id = ${first.conversationId}`;
    await new Promise((r) => setTimeout(r, 1_100)); // the settings cache
    const later = await answerOnce(t.services, {
      userId,
      mode: "chat",
      channel: "whatsapp",
      text: "Still there?",
    });
    assert.ok(later.ok);
    assert.notEqual(later.conversationId, first.conversationId);
    assert.equal(sent(t.fake, 1).messages.length, 2);
  } finally {
    await t.close();
  }
});

Deno.test("answerOnce: billing is the fake's reported usage × price; the balance drops by it", async () => {
  const t = await setupChat();
  try {
    const { userId } = await signup(t.app, 50_000);
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
    const { fakePromptTokens } = await import("./fakes/openai.ts");
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
  } finally {
    await t.close();
  }
});

Deno.test("answerOnce: too few tokens → insufficient_funds with the top-up URL; the message is kept", async () => {
  const t = await setupChat();
  try {
    const { userId } = await signup(t.app, 10);
    const result = await answerOnce(t.services, {
      userId,
      mode: "chat",
      channel: "whatsapp",
      text: "Hello",
    });
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.code === "insufficient_funds");
    assert.match(result.userMessage, /top up at http:\/\/127\.0\.0\.1:\d+\/account/i);
    assert.equal(t.fake.calls("/v1/chat/completions").length, 0);
    const kept = await t.app.server.db.sql`select role, content from messages
                                           where user_id = ${userId}`;
    assert.deepEqual(kept.map((r) => [r.role, r.content]), [["user", "Hello"]]);
    assert.deepEqual(await balanceOf(t.app, userId), { balance: 10, reserved: 0 });
  } finally {
    await t.close();
  }
});
