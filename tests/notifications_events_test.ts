/**
 * The product's events reaching the topics admins route them to: a failed payment, a sign-up, a
 * dead letter (never one of the notifications' own), the AI upstream failing and recovering, a
 * spike of webhook signature failures; unrouted events publish nothing.
 */
import assert from "node:assert/strict";
import { answerOnce } from "../lib/chat/mod.ts";
import { post } from "../lib/wallet/ledger.ts";
import { startFakeOpenAI } from "../lib/sandbox/openai.ts";
import { flakyJob, testHandlers } from "./fixtures/test_jobs.ts";
import { channel, notificationWorld, slackChannel, topic } from "./fixtures/notifications.ts";
import type { NotificationWorld } from "./fixtures/notifications.ts";

async function route(world: NotificationWorld, event: string, topicId: string | null) {
  const res = await world.api("PUT", `/api/v1/notifications/events/${event}`, { topicId });
  assert.equal(res.status, 200, res.text);
}

const slackTexts = (world: NotificationWorld) => world.slack.messages.map((m) => m.text);

Deno.test("routed events are published once: a refused payment, a sign-up, a dead letter", async () => {
  await using world = await notificationWorld({ extraHandlers: testHandlers });
  const slack = await slackChannel(world, "ops", "#ops");
  const ops = await topic(world, "ops", [slack.id]);
  for (const event of ["payment.failed", "account.signed_up"]) await route(world, event, ops.id);

  // Unknown events and topics are refused.
  const bad = await world.api("PUT", "/api/v1/notifications/events/payment.lost", {
    topicId: ops.id,
  });
  assert.equal(bad.status, 422);
  assert.match(bad.text, /the events are payment\.paid, payment\.failed/);

  const signup = await world.api("POST", "/api/v1/auth/signup", {
    email: "tendai@example.com",
    password: "correct horse battery",
  }, {});
  assert.equal(signup.status, 201, signup.text);
  await world.slack.waitForMessages(1);
  assert.match(slackTexts(world)[0], /New sign-up/);
  assert.match(slackTexts(world)[0], /t\*\*\*@e\*\*\*\.com signed up \(api\)/);

  // The sandboxed Paynow refuses this test number at once ("Insufficient balance").
  const [pkg] = await world.app.server.db.sql`select id from token_packages where active limit 1`;
  const pay = await world.api("POST", "/api/v1/payments", {
    packageId: pkg.id,
    method: "ecocash",
    phone: "0774444444",
  }, { authorization: `Bearer ${signup.body.accessToken}` });
  assert.equal(pay.status, 201, pay.text);
  assert.equal(pay.body.status, "failed");
  await world.slack.waitForMessages(2);
  assert.match(slackTexts(world)[1], /Payment failed/);
  assert.match(slackTexts(world)[1], new RegExp(`reference \`${pay.body.reference}\``));

  // Dead letters are not routed yet: nothing. Then routed: one message per dead job.
  await world.app.server.queue.enqueue(flakyJob, { key: "unrouted", failures: 99 });
  await world.waitFor(
    "the first dead letter",
    async () =>
      (await world.app.server.db.sql`select 1 from job_failures where job = 'test.flaky'`)
        .length > 0,
  );
  await route(world, "job.dead_lettered", ops.id);
  await world.app.server.queue.enqueue(flakyJob, { key: "routed", failures: 99 });
  await world.slack.waitForMessages(3);
  assert.match(
    slackTexts(world)[2],
    /`test\.flaky` gave up after 3 attempts: planned failure 3 of routed/,
  );

  // A delivery of ours dying is not announced (it could loop): its dead letter stays silent.
  const broken = await channel(world, {
    name: "broken",
    method: "slack",
    settings: { channel: "#missing" },
    secret: { value: "xoxb-not-the-fake-token" },
  });
  const alarms = await topic(world, "alarms", [broken.id]);
  await route(world, "job.dead_lettered", alarms.id);
  const res = await world.api("POST", "/api/v1/topics/alarms/publish", { text: "x" });
  assert.equal(res.status, 202);
  await world.waitFor(
    "the delivery's dead letter",
    async () =>
      (await world.app.server.db.sql`select 1 from job_failures
                                   where job = 'notifications.deliver'`).length > 0,
  );
  await new Promise((r) => setTimeout(r, 300));
  const [{ n }] = await world.app.server.db.sql`select count(*)::int as n
                                                from notification_publications
                                                where topic_name = 'alarms'`;
  assert.equal(n, 1, "only the message published by hand");
  assert.equal(world.slack.messages.length, 3, "no message about the first dead letter");
});

Deno.test("the AI upstream failing is announced once, and its recovery by the minute's check", async () => {
  await using fake = await startFakeOpenAI();
  await using world = await notificationWorld({
    env: { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.baseUrl },
  });
  const slack = await slackChannel(world, "ops", "#ops");
  const ops = await topic(world, "ops", [slack.id]);
  await route(world, "ai.upstream_down", ops.id);
  await route(world, "ai.upstream_recovered", ops.id);
  const { db, chat, queue } = world.app.server;
  await post(db.sql, {
    userId: world.admin.id,
    kind: "purchase_credit",
    delta: 100_000,
    idempotencyKey: "ai-events",
    description: "test credit",
  });
  const ask = () =>
    answerOnce(chat, {
      userId: world.admin.id,
      mode: "essay",
      channel: "web",
      text: "Hello",
    });
  // Each answer tries the upstream three times before it fails.
  fake.script(...Array(6).fill({ kind: "server_error", status: 502 }));
  assert.equal((await ask()).ok, false);
  assert.equal((await ask()).ok, false);
  await world.slack.waitForMessages(1);
  assert.match(slackTexts(world)[0], /AI upstream failing/);
  assert.match(slackTexts(world)[0], /`upstream_down`, HTTP 502/);

  await world.app.server.notifications.watch(queue);
  assert.equal(world.slack.messages.length, 1, "still failing: no recovery yet");
  assert.equal((await ask()).ok, true);
  await world.app.server.notifications.watch(queue);
  await world.slack.waitForMessages(2);
  assert.match(slackTexts(world)[1], /AI upstream recovered/);
  await world.app.server.notifications.watch(queue);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(world.slack.messages.length, 2, "one announcement per change");
});

Deno.test("a spike of webhook signature failures is announced once per spike", async () => {
  await using world = await notificationWorld();
  const slack = await slackChannel(world, "ops", "#ops");
  const ops = await topic(world, "security", [slack.id]);
  await route(world, "webhook.signature_spike", ops.id);
  const forge = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const res = await world.app.fetch("/api/whatsapp/webhook", {
        method: "POST",
        headers: { "content-type": "application/json", "x-hub-signature-256": "sha256=00" },
        body: JSON.stringify({ object: "whatsapp_business_account", entry: [] }),
      });
      assert.equal(res.status, 401, await res.text());
    }
  };
  const { notifications, queue } = world.app.server;
  await forge(19);
  await notifications.watch(queue);
  assert.equal(world.slack.messages.length, 0, "below the threshold");
  await forge(1);
  await notifications.watch(queue);
  await world.slack.waitForMessages(1);
  assert.match(slackTexts(world)[0], /20 webhook deliveries with a missing or wrong signature/);
  await forge(5);
  await notifications.watch(queue);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(world.slack.messages.length, 1, "the same spike is not announced again");
});
