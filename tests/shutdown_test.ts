/**
 * A graceful stop lets the answers being written finish: SIGTERM to a server process while an
 * essay streams, and the essay still arrives whole, ends `done`/`complete` and is billed once
 * for all of it — within the grace period (fresh.config.ts `shutdownGraceMs`).
 */
import assert from "node:assert/strict";
import { prepareStorage, startServerProcess } from "./harness.ts";
import { FAKE_OPENAI_KEY, startFakeOpenAI } from "../lib/sandbox/openai.ts";
import { createUser } from "../lib/accounts/users.ts";
import { post } from "../lib/wallet/ledger.ts";
import { readSse } from "./chat_sse.ts";

const REPLY = Array.from({ length: 30 }, (_, i) => `Paragraph ${i + 1} of the essay.`).join(" ");

Deno.test("SIGTERM while an essay streams: it finishes whole, complete and billed, then the process exits", async () => {
  // About 3 s of streaming: well inside the 10 s grace period, far longer than a stop takes.
  const fake = await startFakeOpenAI({ reply: REPLY, deltaDelayMs: 30, firstTokenDelayMs: 50 });
  const storage = await prepareStorage();
  const email = "essayist@example.com";
  const password = "correct horse battery";
  {
    const db = await storage.openDatabase();
    const user = await createUser(db.sql, { email, password });
    await post(db.sql, {
      userId: user.id,
      kind: "purchase_credit",
      delta: 1_000_000,
      idempotencyKey: "shutdown-test-credit",
      description: "test credit",
    });
    await db.close();
  }
  const server = await startServerProcess({
    ...storage.env,
    LOG_LEVEL: "info",
    OPENAI_API_KEY: FAKE_OPENAI_KEY,
    OPENAI_BASE_URL: fake.baseUrl,
  });
  const { url, child } = server;
  try {
    const login = await fetch(url + "/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password }),
    });
    const { accessToken } = await login.json();
    const res = await fetch(url + "/api/v1/essays", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({ text: "Write about maize." }),
    });
    assert.equal(res.status, 200);

    let killedAt = 0;
    let pieces = 0;
    const events = await readSse(res, {
      onEvent: (event) => {
        // A few pieces in: the stop arrives mid-answer.
        if (event.event === "delta" && ++pieces === 5) {
          killedAt = performance.now();
          child.kill("SIGTERM");
        }
      },
    });
    assert.ok(killedAt > 0, "stopped mid-answer");
    const text = events.filter((e) => e.event === "delta").map((e) => e.data.text).join("");
    assert.equal(text, REPLY, "the whole essay arrived after the stop");
    const done = events.at(-1)!;
    assert.equal(done.event, "done", JSON.stringify(done));
    assert.equal(done.data.status, "complete");

    const status = await child.status;
    await server.drained;
    assert.equal(status.code, 0, server.tail());
    assert.ok(performance.now() - killedAt < 12_000, "stopped within the grace period");
    assert.match(server.tail(), /"msg":"stopped"/);

    const db = await storage.openDatabase();
    try {
      const [message] = await db.sql`select status, content, cost from messages
                                     where role = 'assistant'`;
      assert.equal(message.status, "complete");
      assert.equal(message.content, REPLY);
      const debits = await db.sql`select amount from ledger_entries where kind = 'usage_debit'`;
      assert.equal(debits.length, 1, "billed once");
      assert.equal(Number(debits[0].amount), Number(message.cost));
    } finally {
      await db.close();
    }
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await fake.close();
    await storage.cleanup();
  }
});
