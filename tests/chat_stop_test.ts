/**
 * Stopping an answer from another process: two instances on one database (as behind a load
 * balancer), a slow answer streaming from instance A, the stop request sent to instance B. The
 * request is recorded in Postgres (`messages.stop_requested_at`) and A's stop watch aborts the
 * generation; billing is that of a local stop (only what was generated).
 */
import assert from "node:assert/strict";
import { startTestApp, type TestApp } from "./harness.ts";
import { FAKE_OPENAI_KEY, startFakeOpenAI } from "../lib/sandbox/openai.ts";
import { deltas, readSse } from "./chat_sse.ts";
import { post } from "../lib/wallet/ledger.ts";

const CREDIT = 100_000;

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

Deno.test("stop: a stop request sent to another instance stops the answer streaming on this one", async () => {
  // 300 deltas 30 ms apart: the answer would take 9 s without the stop.
  const fake = await startFakeOpenAI({ deltaDelayMs: 30, reply: "step ".repeat(300).trim() });
  const env = { OPENAI_API_KEY: FAKE_OPENAI_KEY, OPENAI_BASE_URL: fake.baseUrl };
  const a = await startTestApp({ env });
  let b: TestApp | undefined;
  try {
    b = await startTestApp({ env, alongside: a });
    assert.notEqual(a.url, b.url);

    const signup = await a.fetch(
      "/api/v1/auth/signup",
      json({ email: `stop-${crypto.randomUUID()}@example.com`, password: "correct horse" }),
    );
    assert.equal(signup.status, 201, await signup.clone().text());
    const { user, accessToken } = await signup.json();
    const auth = { authorization: `Bearer ${accessToken}` };
    await post(a.server.db.sql, {
      userId: user.id,
      kind: "purchase_credit",
      delta: CREDIT,
      idempotencyKey: `stop-test:${crypto.randomUUID()}`,
      description: "test credit",
    });
    const created = await a.fetch("/api/v1/conversations", json({ mode: "chat" }, auth));
    assert.equal(created.status, 201);
    const conversationId = (await created.json()).id as string;

    let messageId = "";
    let seen = 0;
    let stopAnswer: Promise<{ status: number; body: { status: string } }> | undefined;
    const res = await a.fetch(
      `/api/v1/conversations/${conversationId}/messages`,
      json({ text: "Count steps" }, auth),
    );
    assert.equal(res.status, 200);
    const events = await readSse(res, {
      onEvent: (e) => {
        if (e.event === "start") messageId = e.data.messageId as string;
        if (e.event === "delta" && ++seen === 3) {
          // B does not generate this answer: only the database can carry the request to A.
          assert.equal(b!.server.chat.runtime.streams.get(messageId), undefined);
          stopAnswer = b!.fetch(`/api/v1/messages/${messageId}/stop`, json({}, auth))
            .then(async (r) => ({ status: r.status, body: await r.json() }));
        }
      },
    });
    assert.deepEqual(await stopAnswer, { status: 200, body: { status: "stopped" } });

    const done = events.at(-1)!;
    assert.equal(done.event, "done");
    assert.equal(done.data.status, "aborted");
    const usage = events.at(-2)!;
    assert.equal(usage.event, "usage");
    const text = deltas(events).join("");
    assert.ok(deltas(events).length < 200, `stopped early (${deltas(events).length} deltas)`);

    const [stored] = await a.server.db.sql`select * from messages where id = ${messageId}`;
    assert.equal(stored.status, "aborted");
    assert.ok(stored.stop_requested_at instanceof Date);
    assert.equal(stored.content, text);
    assert.equal(Number(usage.data.cost), Number(stored.cost));
    assert.ok(Number(stored.cost) > 0, "what was generated is billed");
    assert.equal(stored.usage_estimated, true, "counted from the text generated before the stop");
    const [wallet] = await a.server.db.sql`select balance, reserved from ledger_accounts
                                           where user_id = ${user.id}`;
    assert.deepEqual([Number(wallet.balance), Number(wallet.reserved)], [
      CREDIT - Number(stored.cost),
      0,
    ]);
    // The upstream call itself was aborted, not left running to the end.
    const call = fake.calls("/v1/chat/completions")[0];
    assert.equal(await call.closed, "disconnected");

    // Over: a second stop, on either instance, says so.
    const again = await b.fetch(`/api/v1/messages/${messageId}/stop`, json({}, auth));
    assert.deepEqual(await again.json(), { status: "finished" });
  } finally {
    await b?.close();
    await a.close();
    await fake.close();
  }
});
