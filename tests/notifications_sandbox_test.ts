/**
 * Notifications on the sandbox's own upstreams (nothing configured): Slack and Telegram go to
 * the built-in fakes, WhatsApp through the outbox to the built-in Graph API, with the 24-hour
 * window applied (a template outside it, nothing without one).
 */
import assert from "node:assert/strict";
import { staffUser, startTestApp } from "./harness.ts";

Deno.test("sandboxed: tests reach the built-in Slack and Telegram; WhatsApp goes through the outbox", async () => {
  await using app = await startTestApp();
  const sql = app.server.db.sql;
  assert.ok(app.server.config.sandboxed.includes("slack"));
  assert.ok(app.server.config.sandboxed.includes("telegram"));
  await sql`update tiers set requests_per_minute = 1000000`;
  const admin = await staffUser(app, "ops@example.com", "admin");
  const headers = { ...admin.headers, "content-type": "application/json" };
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await app.fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
  const make = async (body: unknown) => {
    const res = await api("POST", "/api/v1/notifications/channels", body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  };

  const slack = await make({ name: "s", method: "slack", settings: { channel: "#ops" } });
  const telegram = await make({ name: "t", method: "telegram", settings: { chat_id: 1 } });
  for (const id of [slack, telegram]) {
    const test = await api("POST", `/api/v1/notifications/channels/${id}/test`);
    assert.equal(test.body.ok, true, JSON.stringify(test.body));
    assert.match(test.body.response, /^ok: /);
  }

  const templated = await make({
    name: "on-call phones",
    method: "whatsapp",
    settings: { numbers: ["+263771234567"], template: { name: "ops_alert", language: "en" } },
  });
  const bare = await make({
    name: "bare phone",
    method: "whatsapp",
    settings: { numbers: ["+263771234568"] },
  });
  const topic = await api("POST", "/api/v1/notifications/topics", {
    name: "whatsapp",
    channelIds: [templated, bare],
  });
  assert.equal(topic.status, 201);
  const res = await api("POST", "/api/v1/topics/whatsapp/publish", {
    title: "Payment failed",
    text: "Order **4711**\nrefused",
  });
  assert.equal(res.status, 202, JSON.stringify(res.body));

  // Neither number wrote in the last 24 hours: the template goes, the bare message cannot.
  const rows = await (async () => {
    for (let i = 0; i < 400; i++) {
      const rows = await sql`select phone, kind, status, error, template from whatsapp_outbound
                             order by phone`;
      if (rows.length === 2 && rows.every((r) => r.status !== "queued")) return rows;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error("the outbox did not settle");
  })();
  assert.deepEqual(rows.map((r) => [r.phone, r.kind, r.status]), [
    ["+263771234567", "notice", "sent"],
    ["+263771234568", "notice", "dropped"],
  ]);
  assert.equal(rows[0].template.name, "ops_alert");
  assert.deepEqual(rows[0].template.parameters, ["Payment failed Order 4711 refused"]);
  assert.match(rows[1].error, /24-hour window/);
  const deliveries = await sql`select status, recipient from notification_deliveries
                               order by recipient`;
  assert.deepEqual(deliveries.map((d) => [d.recipient, d.status]), [
    ["+26377*****67", "sent"],
    ["+26377*****68", "sent"],
  ]);
});
