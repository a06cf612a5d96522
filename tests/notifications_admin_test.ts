/**
 * `/admin/notifications` through HTTP as an admin's browser: channels and topics made with the
 * forms (a refusal names the field), "Send a test" showing the upstream's answer, the event
 * routes, the delivery log's search, audit rows, and no secret on any page.
 */
import assert from "node:assert/strict";
import { postForm, signedIn } from "./fixtures/forms.ts";
import { notificationWorld } from "./fixtures/notifications.ts";

Deno.test("the notifications pages: forms, a test's answer, routes, the log, audit, no secret", async () => {
  const world = await notificationWorld();
  try {
    const { app } = world;
    const visit = await signedIn(app, world.admin.id, true);
    const { cookie } = visit;
    const pages: string[] = [];
    const get = async (path: string) => {
      const res = await app.fetch(path, { headers: { cookie } });
      const html = await res.text();
      assert.equal(res.status, 200, `${path}: ${html.slice(0, 300)}`);
      pages.push(html);
      return html;
    };
    const submit = async (path: string, fields: Record<string, string>) => {
      const res = await postForm(app, path, visit, fields);
      const html = await res.text();
      pages.push(html);
      return { status: res.status, location: res.headers.get("location"), html };
    };

    assert.match(await get("/admin/notifications"), /No channels yet/);
    const bad = await submit("/admin/notifications/channels", {
      name: "ops",
      method: "slack",
      channel: "no-hash",
    });
    assert.equal(bad.status, 400);
    assert.match(bad.html, /settings\.channel: a channel name/);
    assert.match(bad.html, /value="no-hash"/, "what was typed is kept");

    const made = await submit("/admin/notifications/channels", {
      name: "ops",
      method: "slack",
      channel: "#ops",
      secret_mode: "value",
      secret_value: world.slack.token,
    });
    assert.equal(made.status, 303, made.html.slice(0, 300));
    assert.equal(made.location, "/admin/notifications?notice=created");
    const [ch] = await app.server.db.sql`select id from notification_channels where name = 'ops'`;

    const tested = await submit(`/admin/notifications/channels/${ch.id}/test`, {});
    assert.equal(tested.status, 200);
    assert.match(
      tested.html,
      /Test of <strong>ops<\/strong>: sent — <code>ok: ts \d+\.\d+ in #ops<\/code>/,
    );
    assert.equal(world.slack.messages.length, 1);

    const topicMade = await submit("/admin/notifications/topics", {
      name: "payment failed",
      description: "Paynow said no",
      [`channel_${ch.id}`]: "on",
    });
    assert.equal(topicMade.status, 303, topicMade.html.slice(0, 300));
    const [topic] = await app.server.db.sql`select id from notification_topics`;
    const routed = await submit("/admin/notifications/events", { "payment.failed": topic.id });
    assert.equal(routed.status, 303, routed.html.slice(0, 300));
    const routes = await world.api("GET", "/api/v1/notifications/events");
    assert.equal(
      (routes.body.events as { event: string; topic: string }[])
        .find((r) => r.event === "payment.failed")?.topic,
      "payment failed",
    );

    // The edit form keeps the secret unless told otherwise, and never shows it.
    const edit = await get(`/admin/notifications/channels/${ch.id}`);
    assert.match(edit, /now: stored \(encrypted\)/);
    const saved = await submit(`/admin/notifications/channels/${ch.id}`, {
      name: "ops",
      method: "slack",
      channel: "#ops-2",
      secret_mode: "keep",
    });
    assert.equal(saved.status, 303, saved.html.slice(0, 300));
    const [secret] = await app.server.db.sql`select secret_sealed from notification_channels`;
    assert.ok(secret.secret_sealed, "kept");

    const res = await world.api("POST", "/api/v1/topics/payment%20failed/publish", {
      text: "EcoCash refused HK77",
    });
    assert.equal(res.status, 202);
    await world.slack.waitForMessages(2);
    await world.waitFor("sent", async () => {
      const [d] = await app.server.db.sql`select status from notification_deliveries`;
      return d?.status === "sent";
    });
    assert.match(await get("/admin/notifications"), /100\.0 %/);
    const log = await get(
      "/admin/notifications/deliveries?q=HK77&status=sent&topic=payment+failed",
    );
    assert.match(log, /EcoCash refused HK77/);
    assert.match(log, /#ops-2/);
    assert.doesNotMatch(
      await get("/admin/notifications/deliveries?q=nothing-like-this"),
      /EcoCash refused/,
    );
    assert.match(
      await get("/admin/notifications/deliveries?from=2000-01-01&to=2100-01-01"),
      /HK77/,
    );

    const audit = await app.server.db.sql`select action, after::text as after from audit_log
                                          where action like 'notification%' order by id`;
    assert.deepEqual(audit.map((a) => a.action), [
      "notification_channel.create",
      "notification_topic.create",
      "notification_events.route",
      "notification_channel.update",
    ]);
    for (const html of [...pages, ...audit.map((a) => a.after)]) {
      assert.ok(
        !html.includes(world.slack.token),
        "the channel's token is on a page or in the audit",
      );
    }
  } finally {
    await world.close();
  }
});
