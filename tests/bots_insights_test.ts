/**
 * What a bot's owner learns from it: visitors' questions (through the embed API) show in its
 * analytics — per day, top questions, those its knowledge did not cover, thumbs — and reach the
 * owner's webhook as signed events, retried when the endpoint fails, with a delivery log.
 */
import assert from "node:assert/strict";
import { startTestApp } from "./harness.ts";
import { json, signup, textSource } from "./fixtures/bots.ts";
import { readSse } from "./chat_sse.ts";
import { SIGNATURE_HEADER, verifySignature } from "../lib/security/signing.ts";
import { recordBotDay } from "../lib/bots/analytics.ts";
import { dayIn } from "../lib/metrics/days.ts";

interface Received {
  event: string;
  body: string;
  signature: string | null;
}

function receiver(failFirst: string) {
  const received: Received[] = [];
  let failed = false;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.text();
    const event = req.headers.get("x-hurukuro-event") ?? "";
    if (event === failFirst && !failed) {
      failed = true;
      return new Response("busy", { status: 500 });
    }
    received.push({ event, body, signature: req.headers.get(SIGNATURE_HEADER) });
    return new Response("ok");
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    received,
    close: () => server.shutdown(),
  };
}

Deno.test("bot analytics and signed, retried webhooks from visitors' questions and thumbs", async () => {
  const hook = receiver("message.created");
  const app = await startTestApp({ env: { ALLOW_PRIVATE_URL_HOSTS: "127.0.0.1" } });
  try {
    const owner = await signup(app, 100_000);
    const site = "https://shop.example";
    const bot = await (await app.fetch(
      "/api/v1/bots",
      json({ name: "Shop", allowedOrigins: [site] }, owner.auth),
    )).json();
    const registered = await app.fetch(
      `/api/v1/bots/${bot.id}/webhooks`,
      json({ url: hook.url }, owner.auth),
    );
    assert.equal(registered.status, 201, await registered.clone().text());
    const { secret } = await registered.json();
    assert.match(secret, /^whsec_/);
    const listed =
      await (await app.fetch(`/api/v1/bots/${bot.id}/webhooks`, { headers: owner.auth }))
        .json();
    assert.equal(JSON.stringify(listed).includes(secret), false, "the secret is shown once");
    const private422 = await app.fetch(
      `/api/v1/bots/${bot.id}/webhooks`,
      json({ url: "https://10.0.0.9/hook" }, owner.auth),
    );
    assert.equal(private422.status, 422);

    const source = await textSource(app, owner.auth, bot.id, {
      title: "Hours",
      text: "# Hours\n\nThe shop opens at nine every weekday.",
    });
    for (let i = 0; i < 200; i++) {
      const [row] = await app.server.db.sql`select status from bot_sources where id = ${source.id}`;
      if (row.status === "ready") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const visitorId = "v_" + crypto.randomUUID().replaceAll("-", "");
    const ask = async (text: string) => {
      const res = await app.fetch(`/api/v1/bots/embed/${bot.publicKey}/messages`, {
        ...json({ visitorId, text }, { origin: site }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(res.headers.get("access-control-allow-origin"), site);
      return await readSse(res);
    };
    const first = await ask("When does the shop open?");
    const messageId = first.find((e) => e.event === "done")!.data.messageId as string;
    await ask("Do you sell xylophones qwzx?");
    const thumbs = await app.fetch(
      `/api/v1/bots/embed/${bot.publicKey}/messages/${messageId}/feedback`,
      json({ visitorId, rating: "down" }, { origin: site }),
    );
    assert.equal(thumbs.status, 204);
    const stranger = await app.fetch(
      `/api/v1/bots/embed/${bot.publicKey}/messages/${messageId}/feedback`,
      json({ visitorId: "v_someoneelse000000000", rating: "up" }, { origin: site }),
    );
    assert.equal(stranger.status, 404, "only the visitor who was answered rates the answer");

    const history = await (await app.fetch(
      `/api/v1/bots/embed/${bot.publicKey}?visitorId=${visitorId}`,
      { headers: { origin: site } },
    )).json();
    assert.equal(history.messages.length, 4);
    assert.equal(history.messages[1].feedback, "down");

    const analytics = await (await app.fetch(
      `/api/v1/bots/${bot.id}/analytics?range=7`,
      { headers: owner.auth },
    )).json();
    assert.equal(analytics.days.length, 7);
    const t = analytics.totals;
    assert.equal(t.conversations, 1);
    assert.equal(t.messages, 2);
    assert.equal(t.weakAnswers, 1);
    assert.equal(t.thumbsDown, 1);
    assert.ok(t.cost > 0 && t.tokensOut > 0);
    assert.deepEqual(analytics.weakQuestions.map((q: { question: string }) => q.question), [
      "Do you sell xylophones qwzx?",
    ]);
    assert.equal(analytics.topQuestions.length, 2);

    // The daily job stores what was computed live.
    const today = dayIn(new Date(), app.server.config.tzMetrics);
    await recordBotDay(app.server.db.sql, today, app.server.config.tzMetrics);
    await recordBotDay(app.server.db.sql, today, app.server.config.tzMetrics);
    const stored = await app.server.db.sql`
      select conversations, messages, weak_answers, thumbs_down from bot_daily_metrics
      where bot_id = ${bot.id}`;
    assert.deepEqual(stored.map((r) => ({ ...r })), [
      { conversations: 1, messages: 2, weak_answers: 1, thumbs_down: 1 },
    ]);

    // Webhooks: every event arrives signed; the one that failed first is retried.
    const deadline = Date.now() + 20_000;
    while (hook.received.length < 4 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const events = hook.received.map((r) => r.event).sort();
    assert.deepEqual(events, [
      "conversation.started",
      "feedback.given",
      "message.created",
      "message.created",
    ]);
    for (const r of hook.received) {
      assert.ok(await verifySignature(secret, r.signature, r.body), r.event);
      assert.equal(JSON.parse(r.body).botId, bot.id);
    }
    const created = hook.received.filter((r) => r.event === "message.created")
      .map((r) => JSON.parse(r.body).data);
    assert.ok(created.some((d) =>
      d.question === "When does the shop open?" &&
      d.citations.length === 1 && /\[1\]/.test(d.answer)
    ));
    const log = await (await app.fetch(`/api/v1/bots/${bot.id}/webhooks`, { headers: owner.auth }))
      .json();
    const retried = log.deliveries.filter((d: { attempts: number }) => d.attempts === 2);
    assert.equal(retried.length, 1);
    assert.equal(retried[0].status, "delivered");
    assert.ok(log.deliveries.every((d: { status: string }) => d.status === "delivered"));
  } finally {
    await app.close();
    await hook.close();
  }
});
