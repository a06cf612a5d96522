/**
 * The notifications API around publishing: bad input, idempotency, scopes, the searchable log,
 * per-channel rates, and the reconciler finding deliveries whose job was lost.
 */
import assert from "node:assert/strict";
import { createApiKey } from "../lib/accounts/credentials.ts";
import { createUser } from "../lib/accounts/users.ts";
import {
  channel,
  deliveriesOf,
  notificationWorld,
  slackChannel,
  topic,
} from "./fixtures/notifications.ts";

Deno.test("bad input: settings named field by field, unknown methods, empty topics, unknown topics", async () => {
  await using world = await notificationWorld();
  const bad = await world.api("POST", "/api/v1/notifications/channels", {
    name: "mail",
    method: "email",
    settings: { to: ["not-an-address", "ok@example.com"], subject: "", cc: "x" },
  });
  assert.equal(bad.status, 422, bad.text);
  const issues = (bad.body.error as { details: { issues: { field: string }[] } }).details.issues;
  assert.deepEqual(issues.map((i) => i.field).sort(), [
    "settings",
    "settings.subject",
    "settings.to.0",
  ]);
  assert.equal((bad.body.error as { code: string }).code, "unprocessable");

  const unknown = await world.api("POST", "/api/v1/notifications/channels", {
    name: "pager",
    method: "pagerduty",
    settings: {},
  });
  assert.equal(unknown.status, 422, unknown.text);
  assert.match(
    (unknown.body.error as { message: string }).message,
    /unknown method "pagerduty"; the methods are email, slack, telegram, whatsapp, webhook/,
  );

  const noSecret = await world.api("POST", "/api/v1/notifications/channels", {
    name: "hook",
    method: "webhook",
    settings: { url: "https://hooks.example.com/x" },
  });
  assert.equal(noSecret.status, 422);
  assert.match(noSecret.text, /secret: a Webhook channel needs a secret/);
  const unsetEnv = await world.api("POST", "/api/v1/notifications/channels", {
    name: "slack",
    method: "slack",
    settings: { channel: "#ops" },
    secret: { env: "DATABASE_URL" },
  });
  assert.equal(unsetEnv.status, 422);
  assert.match(unsetEnv.text, /secret\.env: name an environment variable starting with NOTIFY_/);

  const empty = await world.api("POST", "/api/v1/notifications/topics", {
    name: "nobody listens",
    channelIds: [],
  });
  assert.equal(empty.status, 201, empty.text);
  const refused = await world.api("POST", "/api/v1/topics/nobody%20listens/publish", {
    text: "anyone?",
  });
  assert.equal(refused.status, 409, refused.text);
  assert.match(refused.text, /has no channels/);
  const missing = await world.api("POST", "/api/v1/topics/no%20such%20topic/publish", {
    text: "x",
  });
  assert.equal(missing.status, 404, missing.text);
  const ghost = await world.api("POST", "/api/v1/notifications/topics", {
    name: "ghost",
    channelIds: ["00000000-0000-4000-8000-000000000000"],
  });
  assert.equal(ghost.status, 422);
  assert.match(ghost.text, /channelIds\.0: no such channel/);

  const sql = world.app.server.db.sql;
  const [counts] = await sql`select
    (select count(*)::int from notification_publications) as publications,
    (select count(*)::int from notification_deliveries) as deliveries,
    (select count(*)::int from notification_channels) as channels`;
  assert.deepEqual(counts, { publications: 0, deliveries: 0, channels: 0 });
});

Deno.test("Idempotency-Key: the same key replays the first answer and records nothing twice", async () => {
  await using world = await notificationWorld();
  const slack = await slackChannel(world, "slack", "#ops");
  await topic(world, "deploys", [slack.id]);
  const publish = (text: string) =>
    world.api("POST", "/api/v1/topics/deploys/publish", { text }, {
      ...world.admin.headers,
      "idempotency-key": "deploy-2026-03-10",
    });
  const first = await publish("v1.2 is live");
  const again = await publish("v1.2 is live");
  assert.equal(first.status, 202);
  assert.equal(again.status, 202);
  assert.deepEqual(again.body, first.body);
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  const other = await publish("v1.3 is live");
  assert.equal(other.status, 409, other.text);
  await world.waitFor("sent", async () => {
    const rows = await deliveriesOf(world, first.body.id as string);
    return rows[0]?.status === "sent";
  });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(world.slack.messages.length, 1);
  const [{ n }] = await world.app.server.db.sql`select count(*)::int as n
                                                from notification_deliveries`;
  assert.equal(n, 1);
});

Deno.test("scopes: an API key publishes only with notifications:publish, and only admins grant it", async () => {
  await using world = await notificationWorld();
  const sql = world.app.server.db.sql;
  const slack = await slackChannel(world, "s", "#x");
  await topic(world, "t", [slack.id]);
  const plain = await createApiKey(sql, world.admin.id, "no scope");
  const scoped = await createApiKey(sql, world.admin.id, "publisher", ["notifications:publish"]);
  const as = (key: string) => ({ authorization: `Bearer ${key}` });

  const refused = await world.api(
    "POST",
    "/api/v1/topics/t/publish",
    { text: "x" },
    as(plain.key),
  );
  assert.equal(refused.status, 403, refused.text);
  assert.match(refused.text, /notifications:publish/);
  const ok = await world.api("POST", "/api/v1/topics/t/publish", { text: "x" }, as(scoped.key));
  assert.equal(ok.status, 202, ok.text);
  // Publishing is not managing.
  const list = await world.api(
    "GET",
    "/api/v1/notifications/channels",
    undefined,
    as(scoped.key),
  );
  assert.equal(list.status, 403);

  // A user who is not an admin can neither grant the scope nor use one.
  const user = await createUser(sql, {
    email: "u@example.com",
    password: "long enough password",
  });
  const userKey = await createApiKey(sql, user.id, "sneaky", ["notifications:publish"]);
  const denied = await world.api(
    "POST",
    "/api/v1/topics/t/publish",
    { text: "x" },
    as(userKey.key),
  );
  assert.equal(denied.status, 403);
  const made = await world.api("POST", "/api/v1/api-keys", {
    name: "k",
    scopes: ["notifications:publish"],
  }, as(userKey.key));
  assert.equal(made.status, 403);
  const viaAdmin = await world.api("POST", "/api/v1/api-keys", {
    name: "k",
    scopes: ["notifications:publish"],
  });
  assert.equal(viaAdmin.status, 201, viaAdmin.text);
  assert.deepEqual(viaAdmin.body.scopes, ["notifications:publish"]);
});

Deno.test("the log searches by words, topic, channel, status and time; rates per channel", async () => {
  await using world = await notificationWorld();
  const slack = await slackChannel(world, "slack", "#a");
  const tg = await channel(world, { name: "tg", method: "telegram", settings: { chat_id: 5 } });
  await topic(world, "payments", [slack.id, tg.id]);
  await topic(world, "deploys", [slack.id]);
  world.telegram.failNext(6, { status: 500 }); // the Telegram delivery of the first message
  const one = await world.api("POST", "/api/v1/topics/payments/publish", {
    title: "EcoCash refused",
    text: "Payment HK42 was declined by EcoCash",
  });
  const two = await world.api("POST", "/api/v1/topics/deploys/publish", {
    text: "Release 7 is out",
  });
  assert.equal(one.status, 202);
  assert.equal(two.status, 202);
  await world.waitFor("slack sent twice", async () => {
    const rows = [
      ...await deliveriesOf(world, one.body.id as string),
      ...await deliveriesOf(world, two.body.id as string),
    ];
    return rows.filter((r) => r.status === "sent").length === 2;
  });
  const search = async (query: string) => {
    const res = await world.api("GET", `/api/v1/notifications/deliveries?${query}`);
    assert.equal(res.status, 200, res.text);
    return (res.body.deliveries as { publicationId: string; channel: string }[]);
  };
  assert.deepEqual((await search("q=ecocash")).map((d) => d.channel).sort(), ["slack", "tg"]);
  assert.deepEqual((await search("q=declined%20-ecocash")).length, 0);
  assert.deepEqual((await search("q=release")).map((d) => d.publicationId), [two.body.id]);
  assert.equal((await search("topic=deploys")).length, 1);
  assert.equal((await search("channel=tg")).length, 1);
  assert.equal((await search(`channel=${slack.id}`)).length, 2);
  assert.equal((await search("status=sent")).length, 2);
  const future = new Date(Date.now() + 3600_000).toISOString();
  assert.equal((await search(`from=${encodeURIComponent(future)}`)).length, 0);
  assert.equal((await search(`to=${encodeURIComponent(future)}`)).length, 3);
  const page = await world.api("GET", "/api/v1/notifications/deliveries?limit=2");
  const next = await search(
    `limit=2&before=${encodeURIComponent(page.body.nextCursor as string)}`,
  );
  assert.equal(next.length, 1);

  const stats = await world.api("GET", "/api/v1/notifications/stats");
  const slackRate = (stats.body.channels as { channel: string; successRate: number }[])
    .find((c) => c.channel === "slack");
  assert.equal(slackRate?.successRate, 1);
});

Deno.test("a delivery whose job was lost is found by the reconciler and sent once", async () => {
  await using world = await notificationWorld();
  const slack = await slackChannel(world, "slack", "#a");
  await topic(world, "lost", [slack.id]);
  // Published with a queue that loses the job, as a KV file deleted under it would.
  const lost = { enqueue: () => Promise.reject(new Error("KV is gone")) };
  const { publication } = await world.app.server.notifications.publish(lost, "lost", {
    text: "still arrives",
  });
  const sql = world.app.server.db.sql;
  const [row] = await sql`select status from notification_deliveries
                          where publication_id = ${publication.id}`;
  assert.equal(row.status, "queued");
  assert.equal(await world.app.server.queue.reconcile(), 0, "not overdue yet");
  await sql`update notification_deliveries set next_attempt_at = now() - interval '1 minute'`;
  assert.equal(await world.app.server.queue.reconcile(), 1);
  assert.equal(await world.app.server.queue.reconcile(), 0, "claimed: not queued twice");
  await world.waitFor("sent", async () => {
    const rows = await deliveriesOf(world, publication.id);
    return rows[0]?.status === "sent";
  });
  assert.equal(world.slack.messages.length, 1);
});

Deno.test("a channel changing method keeps no secret of the old method unless given one", async () => {
  const hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response());
  const world = await notificationWorld();
  try {
    const webhook = await channel(world, {
      name: "was a webhook",
      method: "webhook",
      settings: { url: `http://127.0.0.1:${hook.addr.port}/` },
      secret: { value: "a-webhook-signing-secret" },
    });
    const res = await world.api("PUT", `/api/v1/notifications/channels/${webhook.id}`, {
      name: "now slack",
      method: "slack",
      settings: { channel: "#ops" },
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.secret, { source: "none" });
    const back = await world.api("PUT", `/api/v1/notifications/channels/${webhook.id}`, {
      name: "webhook again",
      method: "webhook",
      settings: { url: `http://127.0.0.1:${hook.addr.port}/` },
    });
    assert.equal(back.status, 422, "a webhook needs its secret given again");
  } finally {
    await world.close();
    await hook.shutdown();
  }
});
