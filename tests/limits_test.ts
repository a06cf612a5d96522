/**
 * Limits that hold for the whole system: the tier's daily token cap against answers started at
 * the same moment, and a per-minute limit across two instances behind a round-robin balancer.
 */
import { formatCount } from "../lib/format.ts";
import assert from "node:assert/strict";
import { fundedUser, startTestApp, type TestApp } from "./harness.ts";
import { FAKE_OPENAI_KEY, startFakeOpenAI } from "../lib/sandbox/openai.ts";
import { readSse } from "./chat_sse.ts";

const onServer = !!Deno.env.get("DATABASE_URL");

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

/** A user on `tier` with `tokens` in their wallet. */
async function signup(app: TestApp, tier: string, tokens: number) {
  const user = await fundedUser(app, tokens);
  await app.server.db.sql`update users set tier = ${tier} where id = ${user.userId}`;
  return user;
}

async function ask(app: TestApp, auth: Record<string, string>, text: string) {
  const created = await app.fetch("/api/v1/conversations", json({ mode: "chat" }, auth));
  assert.equal(created.status, 201, await created.clone().text());
  const { id } = await created.json();
  return app.fetch(`/api/v1/conversations/${id}/messages`, json({ text }, auth));
}

Deno.test("answers started at the same moment cannot together go over the daily token cap", async () => {
  // Slow answers: all of them are still streaming (their tokens held) when the last one starts.
  const fake = await startFakeOpenAI({ firstTokenDelayMs: 600 });
  const app = await startTestApp({
    env: { OPENAI_API_KEY: FAKE_OPENAI_KEY, OPENAI_BASE_URL: fake.baseUrl },
  });
  try {
    const sql = app.server.db.sql;
    await sql`update tiers set daily_token_cap = 0 where name = 'standard'`;
    const { userId, auth } = await signup(app, "standard", 1_000_000);
    // One answer first, to learn what an answer holds (its estimate) and takes.
    const first = await ask(app, auth, "Hello");
    assert.equal(first.status, 200);
    await readSse(first);
    const [held] = await sql`select amount, used from reservations where user_id = ${userId}`;
    const estimate = Number(held.amount);
    const used = Number(held.used);
    assert.ok(used > 0 && used < estimate);

    // Room for two more answers by their estimates, not three; five start at once.
    const cap = used + 2 * estimate + Math.floor(estimate / 2);
    await sql`update tiers set daily_token_cap = ${cap} where name = 'standard'`;
    await new Promise((r) => setTimeout(r, 5_100)); // the tiers are cached for 5 s
    const answers = await Promise.all(Array.from({ length: 5 }, () => ask(app, auth, "Hello")));
    const statuses = answers.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 429, 429, 429]);
    for (const res of answers) {
      if (res.status === 200) await readSse(res);
      else {
        const body = await res.json();
        assert.equal(body.error.details.reason, "cap_reached");
        assert.match(
          body.error.message,
          new RegExp(`of your ${formatCount(cap)} tokens for today`),
        );
      }
    }
    const [day] = await sql`
      select coalesce(sum(amount), 0)::int as debited from ledger_entries
      where user_id = ${userId} and kind = 'usage_debit'`;
    assert.ok(day.debited <= cap, `${day.debited} tokens debited over a cap of ${cap}`);
    // The day's count is what was debited once every answer is settled.
    const [wallet] = await sql`select cap_used, reserved from ledger_accounts
                               where user_id = ${userId}`;
    assert.deepEqual([Number(wallet.cap_used), Number(wallet.reserved)], [day.debited, 0]);
  } finally {
    await app.close();
    await fake.close();
  }
});

Deno.test({
  name: "a per-minute limit of 20 refuses the 21st request across two instances",
  ignore: !onServer, // two instances need a database server; the embedded one is one process's
  async fn() {
    const a = await startTestApp();
    const b = await startTestApp({ alongside: a });
    try {
      // Each instance learns of the other at its next heartbeat.
      await a.server.instances.beat();
      await b.server.instances.beat();
      assert.equal(a.server.instances.count(), 2);
      const { auth } = await signup(a, "free", 0);
      // Into a fresh minute if this one is nearly over: all requests must fall in one window.
      const intoMinute = Date.now() % 60_000;
      if (intoMinute > 50_000) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 50));
      const statuses: number[] = [];
      for (let i = 0; i < 22; i++) {
        const res = await (i % 2 === 0 ? a : b).fetch("/api/v1/me", { headers: auth });
        await res.body?.cancel();
        statuses.push(res.status);
      }
      assert.deepEqual(statuses.slice(0, 20), Array(20).fill(200));
      assert.deepEqual(statuses.slice(20), [429, 429]);
    } finally {
      await b.close();
      await a.close();
    }
  },
});
