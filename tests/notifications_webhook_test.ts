/**
 * Webhook channels: the signature a receiver checks with the snippet of docs/notifications.md
 * (run here as written), the SSRF guard on saving and on sending (redirects included), and how
 * a receiver's answers are read.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "./harness.ts";
import { channel, deliveriesOf, notificationWorld, topic } from "./fixtures/notifications.ts";

type Verify = (
  secret: string,
  header: string | null,
  rawBody: string,
  toleranceSeconds?: number,
) => Promise<boolean>;

/** The receiver's check exactly as the documentation shows it. */
async function documentedVerifier(): Promise<Verify> {
  const doc = await Deno.readTextFile(join(ROOT, "docs", "notifications.md"));
  const block = doc.match(/```ts\n(\/\/ verify-hurukuro-signature\.ts[\s\S]*?)```/);
  assert.ok(block, "docs/notifications.md shows the receiver's check");
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, block[1]);
  try {
    return (await import(`file://${file}`)).verifyHurukuroSignature as Verify;
  } finally {
    await Deno.remove(file);
  }
}

interface Received {
  headers: Headers;
  body: string;
}

function receiver(answer: (req: Request, n: number) => Response = () => new Response("stored")) {
  const received: Received[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    if (new URL(req.url).pathname === "/redirect-to-metadata") {
      await req.body?.cancel();
      return new Response(null, {
        status: 307,
        headers: { location: "https://169.254.169.254/latest/meta-data/" },
      });
    }
    received.push({ headers: req.headers, body: await req.text() });
    return answer(req, received.length);
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, received, close: () => server.shutdown() };
}

const SECRET = "whsec_correct-horse-battery-staple";

Deno.test("a webhook delivery verifies with the documented receiver's check; a tampered one does not", async () => {
  const verify = await documentedVerifier();
  const hook = receiver();
  const world = await notificationWorld();
  try {
    const webhook = await channel(world, {
      name: "erp",
      method: "webhook",
      settings: { url: `${hook.url}/hooks/hurukuro` },
      secret: { value: SECRET },
    });
    await topic(world, "new grievance", [webhook.id]);
    const res = await world.api("POST", "/api/v1/topics/new%20grievance/publish", {
      title: "Grievance GR-9",
      text: "Water **cut** in Mbare — reported via WhatsApp.",
    });
    assert.equal(res.status, 202, res.text);
    const [got] = await world.waitFor(
      "the webhook",
      () => Promise.resolve(hook.received.length > 0 && hook.received),
    );
    const signature = got.headers.get("x-hurukuro-signature");
    assert.match(signature ?? "", /^t=\d+,v1=[0-9a-f]{64}$/);
    assert.equal(await verify(SECRET, signature, got.body), true);
    assert.equal(await verify("another secret", signature, got.body), false);
    assert.equal(await verify(SECRET, signature, got.body.replace("Mbare", "Mbar3")), false);
    assert.equal(await verify(SECRET, null, got.body), false);
    // A replay long after: refused by the timestamp.
    const old = signature!.replace(/t=\d+/, `t=${Math.floor(Date.now() / 1000) - 3600}`);
    assert.equal(await verify(SECRET, old, got.body), false);

    const payload = JSON.parse(got.body);
    const deliveryId = (res.body.deliveries as { id: string }[])[0].id;
    assert.equal(payload.id, deliveryId);
    assert.equal(got.headers.get("x-hurukuro-delivery"), deliveryId);
    assert.equal(payload.topic, "new grievance");
    assert.match(payload.html, /<strong>cut<\/strong>/);
    const [row] = await world.waitFor("sent", async () => {
      const rows = await deliveriesOf(world, res.body.id as string);
      return rows[0]?.status === "sent" && rows;
    });
    assert.match(String(row.recipient), /^http:\/\/127\.0\.0\.1:\d+\/…$/);
  } finally {
    await world.close();
    await hook.close();
  }
});

Deno.test("webhook URLs on private addresses are refused when saved, and a redirect to one when sent", async () => {
  const hook = receiver((_req, n) =>
    n === 1 ? new Response("nope", { status: 400 }) : new Response("ok")
  );
  // No allow-list: loopback is refused like any private address.
  const world = await notificationWorld({ env: { ALLOW_PRIVATE_URL_HOSTS: "" } });
  try {
    for (
      const url of [
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.8/",
        "https://[::ffff:192.168.1.1]/",
        "https://localhost:8443/",
        "http://example.com/not-https",
      ]
    ) {
      const res = await world.api("POST", "/api/v1/notifications/channels", {
        name: `hook ${url}`,
        method: "webhook",
        settings: { url },
        secret: { value: SECRET },
      });
      assert.equal(res.status, 422, `${url}: ${res.text}`);
      const issues = (res.body.error as { details: { issues: { field: string }[] } }).details
        .issues;
      assert.equal(issues[0].field, "settings.url", url);
    }
    assert.equal(
      (await world.app.server.db.sql`select count(*)::int as n
                                                 from notification_channels`)[0].n,
      0,
    );
  } finally {
    await world.close();
  }

  // With loopback allowed for the receiver, its redirect to the metadata address is still refused.
  const allowed = await notificationWorld();
  try {
    const redirecting = await channel(allowed, {
      name: "redirecting",
      method: "webhook",
      settings: { url: `${hook.url}/redirect-to-metadata` },
      secret: { value: SECRET },
    });
    const refusing = await channel(allowed, {
      name: "refusing",
      method: "webhook",
      settings: { url: `${hook.url}/refuses-first` },
      secret: { value: SECRET },
    });
    await topic(allowed, "audit", [redirecting.id, refusing.id]);
    const res = await allowed.api("POST", "/api/v1/topics/audit/publish", { text: "x" });
    assert.equal(res.status, 202, res.text);
    const rows = await allowed.waitFor("both failed", async () => {
      const rows = await deliveriesOf(allowed, res.body.id as string);
      return rows.length === 2 && rows.every((r) => r.status === "failed") && rows;
    });
    const byChannel = Object.fromEntries(rows.map((r) => [r.channel, r]));
    assert.match(String(byChannel.redirecting.lastError), /redirect was refused.*link-local/);
    assert.match(String(byChannel.refusing.lastError), /HTTP 400: nope/);
    // Refusals no retry can change: one attempt each, and dead letters beside the other jobs'.
    for (const r of rows) assert.equal(r.attempts, 1);
    assert.equal(hook.received.length, 1, "the metadata hop was never requested");
    // The job runtime writes its dead letter after the delivery row is marked failed.
    const dead = await allowed.waitFor("both dead letters", async () => {
      const dead = await allowed.app.server.db.sql`select payload from job_failures
                                                   where job = 'notifications.deliver'`;
      return dead.length >= rows.length && dead;
    });
    assert.deepEqual(
      dead.map((d) => d.payload.deliveryId).sort(),
      rows.map((r) => r.id).sort(),
    );
  } finally {
    await allowed.close();
    await hook.close();
  }
});
