/**
 * Hostile but correctly signed WhatsApp deliveries, end to end: text the database cannot store
 * as it is (NUL, lone surrogates), senders that are not phone numbers, impossible timestamps.
 * Each is answered 200 (the provider must stop retrying), and none harms the deliveries beside
 * it or the next message from the same phone.
 */
import assert from "node:assert/strict";
import {
  metaText,
  metaWebhook,
  signedTwilioWebhook,
  twilioInbound,
} from "../lib/sandbox/whatsapp_sign.ts";
import { count, deliver, setup, sleep, twilioApp } from "./whatsapp_app.ts";
import { whatsappReplyJob } from "../lib/whatsapp/jobs.ts";

Deno.test("NUL bytes and lone surrogates are stored as U+FFFD and answered; the deliveries written beside them are not affected", async () => {
  await using t = await setup();
  const phone = (i: number) => `+2637720${String(i).padStart(5, "0")}`;
  const hostile = new Map<number, ReturnType<typeof metaText>>([
    [3, metaText({ from: phone(3), text: "before\u0000after" })],
    [17, metaText({ from: phone(17), text: "hi", name: "Rudo\u0000" })],
    [29, metaText({ from: phone(29), text: "lone \ud800 high" })],
    [35, metaText({ from: phone(35), text: "lone \udc00 low", name: "\udfff" })],
  ]);
  const messages = Array.from(
    { length: 40 },
    (_, i) => hostile.get(i) ?? metaText({ from: phone(i), text: `hello ${i}` }),
  );
  // All at once, so that they are written in the same batches.
  const answers = await Promise.all(messages.map(async (m) => {
    const res = await deliver(t.app, [m]);
    await res.body?.cancel();
    return res.status;
  }));
  assert.deepEqual(answers, messages.map(() => 200));
  assert.equal(await count(t.app, "whatsapp_inbound"), 40);

  const sql = t.app.server.db.sql;
  const stored = async (m: ReturnType<typeof metaText>) => {
    const [row] = await sql`select message from whatsapp_inbound
                            where provider_message_id = ${m.message.id as string}`;
    return row.message;
  };
  assert.equal((await stored(hostile.get(3)!)).text, "before\ufffdafter");
  assert.equal((await stored(hostile.get(17)!)).profileName, "Rudo\ufffd");
  assert.equal((await stored(hostile.get(29)!)).text, "lone \ufffd high");
  assert.equal((await stored(hostile.get(35)!)).profileName, "\ufffd");
  // The webhook log keeps every delivery too.
  assert.equal(await count(t.app, "whatsapp_webhook_log where status = 200"), 40);

  // Every sender, hostile or not, is welcomed once.
  await t.graph.waitForMessages(40, { timeoutMs: 30_000 });
  await sleep(300);
  const to = new Set(t.graph.messages.map((m) => m.to));
  assert.equal(to.size, 40);
  assert.equal(t.graph.messages.length, 40);
});

Deno.test("a raw NUL byte in a Meta body (not JSON) is logged and answered 200", async () => {
  await using t = await setup();
  const body = JSON.stringify(
    metaWebhook({ messages: [metaText({ from: "+263772100001", text: "x" })] }),
  )
    .replace('"x"', '"a\u0000b"');
  const res = await deliver(t.app, body);
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const [row] = await t.app.server.db.sql`select status, body, error from whatsapp_webhook_log`;
  assert.equal(row.status, 200);
  assert.match(row.error, /not JSON/);
  assert.ok(!row.body.includes("\u0000"));
});

Deno.test("Twilio: Body=a%00b is stored as a\\uFFFDb and answered 200", async () => {
  const { fake, app } = await twilioApp();
  try {
    const url = `${app.url}/api/whatsapp/twilio`;
    const params = twilioInbound({
      from: "+263772200001",
      body: "a\u0000b",
      profileName: "Tino\u0000",
      messageSid: "SM" + "0".repeat(32),
    });
    const signed = signedTwilioWebhook(fake.authToken, url, params);
    assert.match(signed.body, /Body=a%00b/);
    const res = await app.fetch("/api/whatsapp/twilio", {
      method: "POST",
      body: signed.body,
      headers: signed.headers,
    });
    assert.equal(res.status, 200, await res.clone().text());
    await res.body?.cancel();
    const [row] = await app.server.db.sql`select message from whatsapp_inbound`;
    assert.equal(row.message.text, "a\ufffdb");
    assert.equal(row.message.profileName, "Tino\ufffd");
    const [welcome] = await fake.waitForMessages(1, { timeoutMs: 15_000 });
    assert.match(welcome.body, /Welcome to Hurukuro/);
  } finally {
    await app.close();
    await fake.close();
  }
});

/** A Meta text message whose `from` is exactly `from`, whatever it is. */
function fromRaw(from: string, text = "hi") {
  const m = metaText({ from: "+263770000000", text });
  m.message.from = from;
  m.contact.wa_id = from;
  return m;
}

Deno.test("a sender that is not a phone number is quarantined at the webhook: 200, logged masked, counted, never queued", async () => {
  await using t = await setup();
  const hostile = [
    fromRaw("26377123456789012345"), // 20 digits
    fromRaw("9".repeat(5_000)),
    fromRaw("' OR 1=1--"),
    fromRaw(""),
  ];
  hostile[3].message.id = "x".repeat(3_000); // and an id no index can hold
  hostile[3].message.from = "263772300009";
  const valid = metaText({ from: "+263772300001", text: "hi" });
  // One delivery carrying them all, and each alone beside a valid one.
  const together = await deliver(t.app, [...hostile, valid]);
  assert.equal(together.status, 200);
  await together.body?.cancel();
  const alone = await Promise.all(hostile.map(async (m) => {
    const res = await deliver(t.app, [m]);
    await res.body?.cancel();
    return res.status;
  }));
  assert.deepEqual(alone, [200, 200, 200, 200]);

  const sql = t.app.server.db.sql;
  const rows = await sql`select phone from whatsapp_inbound`;
  assert.deepEqual(rows.map((r) => r.phone), ["+263772300001"]);
  const [welcome] = await t.graph.waitForMessages(1, { timeoutMs: 15_000 });
  assert.equal(welcome.to, "263772300001");

  const logs = await sql`select status, error from whatsapp_webhook_log order by id`;
  assert.equal(logs.length, 5);
  assert.ok(logs.every((l) => l.status === 200));
  assert.match(logs[0].error, /4 messages quarantined/);
  assert.deepEqual(logs.slice(1).map((l) => l.error).sort(), [
    "message quarantined: the message id is empty or too long",
    "message quarantined: the sender is not a phone number",
    "message quarantined: the sender is not a phone number",
    "message quarantined: the sender is not a phone number",
  ]);
  const warnings = t.app.logs.filter((l) => l.includes("WhatsApp message quarantined"));
  assert.equal(warnings.length, 8);
  assert.ok(warnings.every((l) => !l.includes("26377123456789012345") && !l.includes("99999")));

  const metrics = await (await t.app.fetch("/metrics")).text();
  assert.match(
    metrics,
    /hurukuro_whatsapp_quarantined_total\{provider="meta",reason="sender"\} 6/,
  );
  assert.match(metrics, /hurukuro_whatsapp_quarantined_total\{provider="meta",reason="id"\} 2/);

  // Nothing stored that could stop the reconciler.
  await t.app.server.queue.reconcile();
  assert.ok(!t.app.logs.some((l) => l.includes("reconciler failed")));
});

Deno.test("an impossible timestamp is replaced by the receive time: that message and the next from the phone are answered", async () => {
  await using t = await setup();
  const phone = "+263772400001";
  for (
    const [i, timestamp] of ["-99999999999999999", "0", "1e400", "99999999999999999"].entries()
  ) {
    const m = metaText({ from: phone, text: i === 0 ? "hi" : "help" });
    m.message.timestamp = timestamp;
    const res = await deliver(t.app, [m]);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    await t.graph.waitForMessages(i + 1, { to: phone, timeoutMs: 15_000 });
  }
  const next = await deliver(t.app, [metaText({ from: phone, text: "help" })]);
  await next.body?.cancel();
  const replies = await t.graph.waitForMessages(5, { to: phone, timeoutMs: 15_000 });
  assert.match(replies[0].text, /Welcome to Hurukuro/);
  assert.ok(replies.slice(1).every((r) => /Help/.test(r.text)), JSON.stringify(replies));
  const sql = t.app.server.db.sql;
  const [session] = await sql`select last_inbound_at from whatsapp_sessions where phone = ${phone}`;
  assert.ok(Math.abs(session.last_inbound_at.getTime() - Date.now()) < 60_000);
  const logs = await sql`select error from whatsapp_webhook_log order by id limit 1`;
  assert.match(logs[0].error, /timestamp/);
  assert.equal(await count(t.app, "job_failures"), 0);
});

/** Stores a pending message as an older version may have (the webhook is not involved). */
async function storePending(
  sql: Awaited<ReturnType<typeof setup>>["app"]["server"]["db"]["sql"],
  phone: string,
  message: Record<string, unknown>,
) {
  const id = `wamid.stored-${crypto.randomUUID()}`;
  await sql`insert into whatsapp_inbound (provider, provider_message_id, phone, type, message)
            values ('meta', ${id}, ${phone}, 'text',
                    ${sql.json({ provider: "meta", id, from: phone, to: "", ...message })})`;
}

Deno.test("a stored message with an impossible time is answered, and so is the next one", async () => {
  await using t = await setup();
  const phone = "+263772400002";
  const sql = t.app.server.db.sql;
  await storePending(sql, phone, { type: "text", text: "hi", timestamp: -1e20 });
  await storePending(sql, phone, { type: "text", text: "help", timestamp: Date.now() });
  await t.app.server.queue.enqueue(whatsappReplyJob, { phone });
  const [welcome, help] = await t.graph.waitForMessages(2, { to: phone, timeoutMs: 15_000 });
  assert.match(welcome.text, /Welcome/);
  assert.match(help.text, /Help/);
});

Deno.test("a message that cannot be answered fails alone after its attempts; the next from the phone is answered", async () => {
  await using t = await setup();
  const phone = "+263772400003";
  const sql = t.app.server.db.sql;
  // Breaks before the conversation step (the user's name is not text).
  await storePending(sql, phone, {
    type: "text",
    text: "hi",
    timestamp: Date.now(),
    profileName: 7,
  });
  await storePending(sql, phone, { type: "text", text: "hi", timestamp: Date.now() });
  await t.app.server.queue.enqueue(whatsappReplyJob, { phone });
  const [welcome] = await t.graph.waitForMessages(1, { to: phone, timeoutMs: 30_000 });
  assert.match(welcome.text, /Welcome/);
  const rows = await sql`select status, attempts, error from whatsapp_inbound order by seq`;
  assert.deepEqual(rows.map((r) => r.status), ["failed", "answered"]);
  assert.equal(rows[0].attempts, 3);
  assert.ok(rows[0].error);
  assert.equal(await count(t.app, "job_failures"), 0, "the job itself did not die");
});

Deno.test("a message whose conversation step keeps failing gets one apology after its attempts; the next is answered", async () => {
  await using t = await setup();
  const phone = "+263772400004";
  const sql = t.app.server.db.sql;
  await storePending(sql, phone, { type: "text", text: "hi", timestamp: Date.now() });
  await storePending(sql, phone, { type: "text", timestamp: Date.now() }); // no text: the step throws
  await storePending(sql, phone, { type: "text", text: "help", timestamp: Date.now() });
  await t.app.server.queue.enqueue(whatsappReplyJob, { phone });
  const replies = await t.graph.waitForMessages(3, { to: phone, timeoutMs: 30_000 });
  assert.deepEqual(replies.map((r) => r.text.slice(0, 22)), [
    "*Welcome to Hurukuro!*",
    "Sorry, something went ",
    replies[2].text.slice(0, 22),
  ]);
  assert.match(replies[2].text, /Help/);
  const rows = await sql`select status, attempts from whatsapp_inbound order by seq`;
  assert.deepEqual(rows.map((r) => [r.status, r.attempts]), [
    ["answered", 1],
    ["failed", 3],
    ["answered", 1],
  ]);
  await sleep(500);
  assert.equal(t.graph.messages.length, 3, "one apology");
});
