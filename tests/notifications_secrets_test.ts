/**
 * Channel secrets never leave the server: after every operation on channels (create, read,
 * list, update, test, publish, the log), no database row, API answer or log line holds one.
 */
import assert from "node:assert/strict";
import type { Sql } from "../lib/db/mod.ts";
import { channel, notificationWorld, SLACK_APP_TOKEN, topic } from "./fixtures/notifications.ts";

const ENV_SECRET = "env-signing-secret-4f1c2a9d7e";
const STORED_SECRET = "stored-signing-secret-93b7d1";
const ROTATED_SECRET = "rotated-signing-secret-c3a1f0";

/** Every row of every table of the app's schema, as text: what a dump would hold. */
async function databaseDump(db: Sql): Promise<string> {
  const tables = await db`select tablename from pg_tables where schemaname = current_schema()`;
  const parts: string[] = [];
  for (const { tablename } of tables) {
    const rows = await db.unsafe(`select t::text as row from "${tablename}" t`);
    parts.push(`-- ${tablename}`, ...rows.map((r) => r.row as string));
  }
  return parts.join("\n");
}

Deno.test("secrets are in no database row, API answer or log line", async () => {
  const hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.text();
    return new Response("ok");
  });
  const world = await notificationWorld({ env: { NOTIFY_OPS_HOOK: ENV_SECRET } });
  const answers: string[] = [];
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await world.api(method, path, body);
    answers.push(`${method} ${path} → ${res.status} ${res.text}`);
    return res;
  };
  try {
    const url = `http://127.0.0.1:${hook.addr.port}/hook`;
    const stored = await channel(world, {
      name: "stored",
      method: "webhook",
      settings: { url },
      secret: { value: STORED_SECRET },
    });
    answers.push(JSON.stringify(stored));
    const named = await channel(world, {
      name: "named",
      method: "webhook",
      settings: { url },
      secret: { env: "NOTIFY_OPS_HOOK" },
    });
    answers.push(JSON.stringify(named));
    const ownToken = await channel(world, {
      name: "slack with its own token",
      method: "slack",
      settings: { channel: "#ops" },
      secret: { value: SLACK_APP_TOKEN },
    });
    answers.push(JSON.stringify(ownToken));
    const tg = await channel(world, {
      name: "telegram with its own token",
      method: "telegram",
      settings: { chat_id: 7 },
      secret: { value: world.telegram.token },
    });
    answers.push(JSON.stringify(tg));
    assert.deepEqual(stored.secret, { source: "stored" });
    assert.deepEqual(named.secret, { source: "env", name: "NOTIFY_OPS_HOOK" });

    await call("GET", "/api/v1/notifications/channels");
    await call("GET", `/api/v1/notifications/channels/${stored.id}`);
    const rotated = await call("PUT", `/api/v1/notifications/channels/${stored.id}`, {
      name: "stored",
      method: "webhook",
      settings: { url },
      secret: { value: ROTATED_SECRET },
    });
    assert.equal(rotated.status, 200, rotated.text);
    // Left out of an update, the secret is kept.
    const kept = await call("PUT", `/api/v1/notifications/channels/${named.id}`, {
      name: "named",
      method: "webhook",
      settings: { url },
    });
    assert.deepEqual(kept.body.secret, { source: "env", name: "NOTIFY_OPS_HOOK" });
    for (const id of [stored.id, named.id, ownToken.id, tg.id]) {
      const test = await call("POST", `/api/v1/notifications/channels/${id}/test`);
      assert.equal(test.body.ok, true, test.text);
    }
    // A refused secret is not echoed back either.
    await call("POST", "/api/v1/notifications/channels", {
      name: "bad",
      method: "email",
      settings: { to: ["a@example.com"], subject: "x" },
      secret: { value: STORED_SECRET },
    });

    await topic(world, "ops", [stored.id, named.id, ownToken.id, tg.id]);
    const published = await call("POST", "/api/v1/topics/ops/publish", { text: "hello" });
    assert.equal(published.status, 202);
    await world.waitFor("four sent", async () => {
      const res = await call("GET", "/api/v1/notifications/deliveries");
      const rows = res.body.deliveries as { status: string }[];
      return rows.length === 4 && rows.every((r) => r.status === "sent");
    });
    await call("GET", "/api/v1/notifications/stats");
    await call("GET", "/api/v1/notifications/topics");

    const dump = await databaseDump(world.app.server.db.sql);
    assert.match(dump, /notification_channels/, "the dump covers the channels");
    const places = {
      "database dump": dump,
      "API answers": answers.join("\n"),
      logs: world.app.logs.join("\n"),
    };
    const secrets = [
      ENV_SECRET,
      STORED_SECRET,
      ROTATED_SECRET,
      SLACK_APP_TOKEN,
      world.telegram.token,
    ];
    for (const [where, text] of Object.entries(places)) {
      for (const secret of secrets) {
        assert.ok(!text.includes(secret), `a secret (${secret.slice(0, 6)}…) is in the ${where}`);
      }
    }
  } finally {
    await world.close();
    await hook.shutdown();
  }
});
