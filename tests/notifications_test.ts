/**
 * Notifications end to end against the fakes (Slack, Telegram, SMTP, a webhook receiver), on
 * whichever database back end the run uses: publishing to every channel of a topic, retries
 * that honour the upstream's wait, the log, and what bad input gets.
 */
import assert from "node:assert/strict";
import { channel, deliveriesOf, notificationWorld, topic } from "./fixtures/notifications.ts";

Deno.test("a publish to e-mail, Slack and Telegram: each upstream gets exactly one message, three sent rows", async () => {
  await using world = await notificationWorld();
  const email = await channel(world, {
    name: "ops mail",
    method: "email",
    settings: { to: ["ops@example.com", "cto@example.com"], subject: "Hurukuro alert" },
  });
  const slack = await channel(world, {
    name: "ops slack",
    method: "slack",
    settings: { channel: "#alerts" },
  });
  const telegram = await channel(world, {
    name: "ops telegram",
    method: "telegram",
    settings: { chat_id: "-1001234567890" },
  });
  await topic(world, "payment failed", [email.id, slack.id, telegram.id]);

  const res = await world.api("POST", "/api/v1/topics/payment%20failed/publish", {
    title: "Payment failed",
    text: "Payment **HK12** for *USD 1.00* failed: <insufficient balance> & more",
  });
  assert.equal(res.status, 202, res.text);
  const publicationId = res.body.id as string;
  assert.equal((res.body.deliveries as unknown[]).length, 3);

  const rows = await world.waitFor("three sent deliveries", async () => {
    const rows = await deliveriesOf(world, publicationId);
    return rows.length === 3 && rows.every((r) => r.status === "sent") && rows;
  });
  await new Promise((r) => setTimeout(r, 300)); // room for a wrong second send to show up
  assert.equal(world.slack.messages.length, 1);
  assert.equal(world.telegram.messages.length, 1);
  assert.equal(world.smtp.messages.length, 1);

  // Each rendered for its method.
  assert.equal(world.slack.messages[0].channel, "#alerts");
  assert.match(world.slack.messages[0].text, /\*HK12\*/);
  assert.match(world.slack.messages[0].text, /&lt;insufficient balance&gt; &amp; more/);
  const tg = world.telegram.messages[0];
  assert.equal(tg.parseMode, "HTML");
  assert.match(tg.text, /<b>HK12<\/b>/);
  const mail = world.smtp.messages[0];
  assert.deepEqual(mail.to.sort(), ["cto@example.com", "ops@example.com"]);
  assert.equal(mail.subject, "Hurukuro alert: Payment failed");
  assert.match(mail.html ?? "", /<strong>HK12<\/strong>/);
  assert.match(mail.text, /Payment HK12 for USD 1\.00 failed/);

  const byMethod = Object.fromEntries(rows.map((r) => [r.method, r]));
  assert.equal(byMethod.slack.providerMessageId, world.slack.messages[0].ts);
  assert.equal(byMethod.telegram.providerMessageId, String(tg.messageId));
  assert.equal(byMethod.email.recipient, "o***@e***.com and 1 more");
  for (const r of rows) assert.equal(r.attempts, 1);
});

Deno.test("an upstream failing with 500, then 429 with retry_after: retrying twice, then sent, after waiting the retry_after", async () => {
  await using world = await notificationWorld();
  const telegram = await channel(world, {
    name: "on-call",
    method: "telegram",
    settings: { chat_id: 42 },
  });
  await topic(world, "AI upstream down", [telegram.id]);
  // Longer than the second step of the backoff (5 s): only honouring it waits this long.
  const retryAfter = 6;
  world.telegram.failNext(1, { status: 500 });
  world.telegram.failNext(1, { status: 429, retryAfterSeconds: retryAfter });

  const res = await world.api("POST", "/api/v1/topics/AI%20upstream%20down/publish", {
    text: "The model answers 502.",
  });
  assert.equal(res.status, 202, res.text);
  const deliveryId = (res.body.deliveries as { id: string }[])[0].id;

  // Every state the row goes through, as a reader of the log would see it.
  const seen: string[] = [];
  const sql = world.app.server.db.sql;
  await world.waitFor("the delivery to be sent", async () => {
    const [row] = await sql`select status, attempts from notification_deliveries
                            where id = ${deliveryId}`;
    const state = `${row.status}@${row.attempts}`;
    if (seen[seen.length - 1] !== state) seen.push(state);
    return row.status === "sent";
  }, 30_000);
  const settled = seen.filter((s) => !s.startsWith("sending") && !s.startsWith("queued"));
  assert.deepEqual(settled, ["retrying@1", "retrying@2", "sent@3"], seen.join(" → "));

  const calls = world.telegram.calls.filter((c) => c.method === "sendMessage");
  assert.deepEqual(calls.map((c) => c.status), [500, 429, 200]);
  const waited = calls[2].at - calls[1].at;
  assert.ok(waited >= retryAfter * 1000, `waited ${Math.round(waited)} ms`);
  assert.equal(world.telegram.messages.length, 1);

  const [log] = await sql`select last_error, attempts from notification_deliveries
                          where id = ${deliveryId}`;
  assert.equal(log.last_error, null);
  assert.equal(log.attempts, 3);
});
