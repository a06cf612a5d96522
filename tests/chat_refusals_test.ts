/**
 * A refused question (402: too few tokens; 429: the daily cap) starts no conversation: before,
 * each refusal left a conversation holding only the question, which /chat then opened first.
 */
import assert from "node:assert/strict";
import type { TestApp } from "./harness.ts";
import { chatOnWhatsApp, startChatApp } from "./chat_app.ts";
import { signUpByApi } from "./browser_users.ts";

async function withChatApp(fn: (app: TestApp) => Promise<void>) {
  await using chat = await startChatApp();
  await fn(chat.app);
}

const ask = (app: TestApp, token: string, path: string, text: string) =>
  app.fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ text }),
  });

const conversationsOf = async (app: TestApp, userId: string) =>
  (await app.server.db.sql`select count(*)::int as n from conversations
                           where user_id = ${userId}`)[0].n as number;

Deno.test("402 on a new chat, an essay or WhatsApp: no conversation is left behind", async () => {
  await withChatApp(async (app) => {
    const user = await signUpByApi(app, { tokens: 5 });
    const essay = await ask(app, user.accessToken, "/api/v1/essays", "Hello there");
    assert.equal(essay.status, 402);
    assert.match((await essay.json()).error.message, /enough tokens/);
    const once = await chatOnWhatsApp(app.server.chat, user.id, "Hello");
    assert.ok(!once.ok && once.code === "insufficient_funds");
    assert.equal(await conversationsOf(app, user.id), 0);
    // The web's "New chat" asks its first question without creating the conversation first.
    const chat = await ask(app, user.accessToken, "/api/v1/chats", "Hello there");
    assert.equal(chat.status, 402);
    await chat.body?.cancel();
    assert.equal(await conversationsOf(app, user.id), 0);
    const listed = await app.fetch("/api/v1/conversations", {
      headers: { authorization: `Bearer ${user.accessToken}` },
    });
    assert.deepEqual((await listed.json()).conversations, []);
  });
});

Deno.test("429 at the daily cap: no conversation is left behind; a paid-for chat still starts one", async () => {
  await withChatApp(async (app) => {
    const user = await signUpByApi(app, { tokens: 1_000_000 });
    await app.server.db.sql`update tiers set daily_token_cap = 500 where name = 'free'`;
    const refused = await ask(app, user.accessToken, "/api/v1/chats", "Hello there");
    assert.equal(refused.status, 429);
    await refused.body?.cancel();
    assert.equal(await conversationsOf(app, user.id), 0);

    await app.server.db.sql`update tiers set daily_token_cap = 0 where name = 'free'`;
    // The tier cache refreshes within seconds; ask until the cap is gone.
    let res!: Response;
    for (let i = 0; i < 50; i++) {
      res = await ask(app, user.accessToken, "/api/v1/chats", "Hello there");
      if (res.status !== 429) break;
      await res.body?.cancel();
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(res.status, 200);
    const events = await res.text();
    assert.match(events, /event: done/);
    assert.equal(await conversationsOf(app, user.id), 1);
  });
});
