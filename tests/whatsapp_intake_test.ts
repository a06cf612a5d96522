/**
 * The webhook's intake under load: a bounded backlog (503 with Retry-After beyond it, nothing
 * accepted lost, a retried delivery answered once), de-duplication of identical deliveries
 * arriving together, and each phone's replies in order with a reply lane of hundreds.
 */
import assert from "node:assert/strict";
import { metaText } from "../lib/sandbox/whatsapp_sign.ts";
import { count, deliver, say, setup, sleep, text } from "./whatsapp_app.ts";

const phoneOf = (i: number) => `+26377300${String(i).padStart(4, "0")}`;
const idsIn = async (t: Awaited<ReturnType<typeof setup>>, ids: string[]) =>
  await count(
    t.app,
    `whatsapp_inbound where provider_message_id in (${ids.map((id) => `'${id}'`).join(",")})`,
  );

Deno.test("a full backlog answers 503 with Retry-After; nothing accepted is lost, a retry is answered once", async () => {
  const t = await setup({ env: { WHATSAPP_WEBHOOK_BACKLOG: "2" } });
  try {
    const messages = Array.from(
      { length: 40 },
      (_, i) => metaText({ from: phoneOf(i), text: "hi" }),
    );
    const answers = await Promise.all(messages.map(async (m) => {
      const res = await deliver(t.app, [m]);
      await res.body?.cancel();
      return {
        id: m.message.id as string,
        status: res.status,
        retryAfter: res.headers.get("retry-after"),
      };
    }));
    const accepted = answers.filter((a) => a.status === 200).map((a) => a.id);
    const refused = answers.filter((a) => a.status === 503);
    assert.equal(
      accepted.length + refused.length,
      40,
      JSON.stringify(answers.map((a) => a.status)),
    );
    assert.ok(refused.length > 0, "40 deliveries at once over a backlog of 2: some refused");
    assert.ok(accepted.length >= 2, "the backlog's worth accepted");
    for (const r of refused) assert.equal(r.retryAfter, "1");
    // Every 200 is stored; nothing refused is, not even a log row.
    assert.equal(await idsIn(t, accepted), accepted.length);
    assert.equal(await idsIn(t, refused.map((r) => r.id)), 0);
    assert.equal(await count(t.app, "whatsapp_webhook_log where status = 503"), 0);

    // The provider delivers the refused ones again, as Retry-After asks (here one at a time).
    for (const r of refused) {
      const res = await deliver(t.app, [messages.find((m) => m.message.id === r.id)!]);
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }
    // One welcome for each of the 40 phones; none twice.
    await t.graph.waitForMessages(40, { timeoutMs: 30_000 });
    await sleep(1_000);
    const perPhone = new Map<string, number>();
    for (const m of t.graph.messages) perPhone.set(m.to, (perPhone.get(m.to) ?? 0) + 1);
    assert.equal(perPhone.size, 40);
    assert.deepEqual([...new Set(perPhone.values())], [1]);
    assert.equal(await count(t.app, "whatsapp_inbound where status = 'answered'"), 40);
  } finally {
    await t.close();
  }
});

Deno.test("over WHATSAPP_UNANSWERED_LIMIT messages with no reply sent yet, webhooks get 503 until the replies catch up", async () => {
  const t = await setup({ env: { WHATSAPP_UNANSWERED_LIMIT: "3" } });
  try {
    // Three messages waiting for their answers (stored by any instance).
    const sql = t.app.server.db.sql;
    const waiting = [1, 2, 3].map((i) => ({ id: `wamid.waiting${i}`, phone: phoneOf(300 + i) }));
    for (const w of waiting) {
      await sql`insert into whatsapp_inbound (provider, provider_message_id, phone, type, message)
                values ('meta', ${w.id}, ${w.phone}, 'text', ${sql.json({ text: "hi" })})`;
    }
    const m = metaText({ from: phoneOf(310), text: "hi" });
    const refused = await deliver(t.app, [m]);
    await refused.body?.cancel();
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("retry-after"), "1");
    assert.equal(await idsIn(t, [m.message.id as string]), 0, "nothing stored");

    // A delivery, tried every 250 ms for 3 s (the count is at most about a second old).
    const retried = async () => {
      let status = 503;
      for (const until = Date.now() + 3_000; status === 503 && Date.now() < until;) {
        await sleep(250);
        const res = await deliver(t.app, [m]);
        await res.body?.cancel();
        status = res.status;
      }
      return status;
    };
    // Answered, but the answers not yet sent: the users still wait for them.
    await sql`update whatsapp_inbound set status = 'answered', processed_at = now()
              where provider_message_id like 'wamid.waiting%'`;
    for (const w of waiting) {
      await sql`insert into whatsapp_outbound (phone, kind, message)
                values (${w.phone}, 'reply', ${sql.json({ kind: "text", text: "hello" })})`;
    }
    assert.equal(await retried(), 503);
    assert.equal(await idsIn(t, [m.message.id as string]), 0, "nothing stored");
    // Sent meanwhile: the retry is taken.
    await sql`update whatsapp_outbound set status = 'sent', sent_at = now()
              where phone in ${sql(waiting.map((w) => w.phone))}`;
    assert.equal(await retried(), 200);
    assert.equal(await idsIn(t, [m.message.id as string]), 1);
    await t.graph.waitForMessages(1, { timeoutMs: 15_000 });
    assert.equal(t.graph.messages[0].to, phoneOf(310).slice(1));
  } finally {
    await t.close();
  }
});

Deno.test("identical deliveries arriving together are stored and answered once", async () => {
  const t = await setup();
  try {
    const phones = [phoneOf(100), phoneOf(101), phoneOf(102)];
    const messages = phones.map((p) => metaText({ from: p, text: "hi" }));
    // Each message 10 times at once, alone and all three in one delivery (Meta batches too).
    const sends = [
      ...messages.flatMap((m) => Array.from({ length: 10 }, () => [m])),
      ...Array.from({ length: 10 }, () => messages),
    ];
    const statuses = await Promise.all(sends.map(async (batch) => {
      const res = await deliver(t.app, batch);
      await res.body?.cancel();
      return res.status;
    }));
    assert.deepEqual([...new Set(statuses)], [200]);
    assert.equal(await idsIn(t, messages.map((m) => m.message.id as string)), 3);
    await t.graph.waitForMessages(3, { timeoutMs: 15_000 });
    await sleep(1_500);
    assert.equal(t.graph.messages.length, 3, "one reply per message");
    assert.deepEqual(
      t.graph.messages.map((m) => m.to).sort(),
      phones.map((p) => p.slice(1)).sort(),
    );
  } finally {
    await t.close();
  }
});

Deno.test("with a reply lane of 500, each phone's answers come in the order its messages came", async () => {
  const t = await setup({ grant: 1_000_000, env: { WHATSAPP_REPLY_CONCURRENCY: "500" } });
  try {
    const phones = Array.from({ length: 6 }, (_, i) => phoneOf(200 + i));
    // Into Chat mode first (welcome, then "1").
    await Promise.all(phones.map(async (p) => {
      await say(t, p, text(p, "hi"));
      await say(t, p, text(p, "1"));
    }));
    const before = t.graph.messages.length;
    // Eight questions per phone, each delivery acknowledged before the next of that phone
    // leaves (their arrival order), all phones at once; the AI answers in 50–150 ms.
    t.openai.script(
      ...Array.from({ length: 48 }, (_, i) => ({
        kind: "reply" as const,
        firstTokenDelayMs: 50 + (i * 37) % 100,
      })),
    );
    await Promise.all(phones.map(async (p) => {
      for (let q = 1; q <= 8; q++) {
        const res = await deliver(t.app, [text(p, `question ${q}`)]);
        assert.equal(res.status, 200);
        await res.body?.cancel();
      }
    }));
    await t.graph.waitForMessages(before + 48, { timeoutMs: 30_000 });
    for (const p of phones) {
      const answers = t.graph.messages.slice(before).filter((m) => m.to === p.slice(1));
      assert.deepEqual(
        answers.map((m) => /question (\d)/.exec(m.text)?.[1]),
        ["1", "2", "3", "4", "5", "6", "7", "8"],
        `answers to ${p} in order`,
      );
    }
  } finally {
    await t.close();
  }
});
