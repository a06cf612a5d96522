/**
 * End to end through HTTP: the operations surface, error envelopes, CORS, limits, logging,
 * start-up refusals and shutdown, on whichever database back end the run uses.
 */
import assert from "node:assert/strict";
import { denoCommand, healthOnce, prepareStorage, startTestApp } from "./harness.ts";

Deno.test("GET /health answers 200 with each dependency, then 503 once the database is down", async () => {
  await using app = await startTestApp();
  const res = await app.fetch("/health");
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.status, "ok");
  assert.equal(body.database.status, "ok");
  assert.equal(body.database.kind, Deno.env.get("DATABASE_URL") ? "server" : "embedded");
  assert.equal(body.kv.status, "ok");
  assert.equal(body.queue.status, "ok");
  assert.equal(typeof body.queue.backlog, "number");
  // The live instances (this one), without naming the machine.
  assert.equal(body.instances.self, app.server.instances.id);
  assert.deepEqual(body.instances.live.map((i: { id: string }) => i.id), [body.instances.self]);
  assert.equal(body.instances.live[0].version, "0.1.0");
  assert.ok(!JSON.stringify(body.instances).includes(Deno.hostname()));

  await app.server.db.close();
  const down = await healthOnce(app, (status) => status !== 200);
  assert.equal(down.status, 503);
  assert.equal(down.body.status, "degraded");
  assert.equal(down.body.database.status, "down");
  assert.equal(down.body.queue.status, "unknown");
});

Deno.test("GET /metrics speaks Prometheus text and counts requests by route pattern", async () => {
  await using app = await startTestApp();
  await (await app.fetch("/health")).body?.cancel();
  await (await app.fetch("/api/v1/status")).body?.cancel();
  await (await app.fetch("/no/such/page")).body?.cancel();
  const res = await app.fetch("/metrics");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
  const text = await res.text();
  assert.match(
    text,
    /hurukuro_http_requests_total\{method="GET",route="\/health",status="200"\} 1/,
  );
  assert.match(text, /route="\/api\/v1\/status",status="200"\} 1/);
  assert.match(text, /route="unmatched",status="404"\} 1/);
  assert.match(text, /hurukuro_http_request_duration_seconds_bucket/);
  assert.match(text, /^hurukuro_chat_streams_generating 0$/m);
  assert.match(text, /^hurukuro_event_streams_open 0$/m);
});

Deno.test("/api errors use the JSON envelope; pages get an HTML error page", async () => {
  await using app = await startTestApp();
  const api = await app.fetch("/api/v1/nothing-here");
  assert.equal(api.status, 404);
  const body = await api.json();
  assert.equal(body.error.code, "not_found");
  assert.equal(typeof body.error.message, "string");

  const page = await app.fetch("/nothing-here");
  assert.equal(page.status, 404);
  assert.match(page.headers.get("content-type") ?? "", /text\/html/);
  const html = await page.text();
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /Page not found/);
});

Deno.test("oversized bodies get 413 in the envelope, never a 500", async () => {
  await using app = await startTestApp();
  const res = await app.fetch("/api/v1/status", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "x".repeat(5 * 1024 * 1024),
  });
  assert.equal(res.status, 413);
  assert.equal((await res.json()).error.code, "payload_too_large");
  // Sent in chunks, with no length declared: counted as it arrives.
  const chunks = ReadableStream.from(
    Array.from({ length: 6 }, () => new TextEncoder().encode("x".repeat(1024 * 1024))),
  );
  const chunked = await app.fetch("/api/v1/status", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: chunks,
  });
  assert.equal(chunked.status, 413);
  assert.equal((await chunked.json()).error.code, "payload_too_large");
});

Deno.test("requests before sign-in are counted by the client's address", async () => {
  await using app = await startTestApp();
  const res = await app.fetch("/api/v1/status");
  await res.body?.cancel();
  assert.equal(res.headers.get("x-ratelimit-remaining"), "29");
  const again = await app.fetch("/api/v1/status");
  await again.body?.cancel();
  assert.equal(again.headers.get("x-ratelimit-remaining"), "28");
  // One counter (this address's), in memory: nothing was written for it.
  assert.equal(app.server.rateLimiter.size, 1);
});

Deno.test("CORS allows the configured frontend origins with credentials, and no others", async () => {
  await using app = await startTestApp({ env: { CORS_ORIGINS: "https://app.hurukuro.example" } });
  const preflight = await app.fetch("/api/v1/status", {
    method: "OPTIONS",
    headers: {
      origin: "https://app.hurukuro.example",
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization,content-type",
    },
  });
  await preflight.body?.cancel();
  assert.equal(
    preflight.headers.get("access-control-allow-origin"),
    "https://app.hurukuro.example",
  );
  assert.equal(preflight.headers.get("access-control-allow-credentials"), "true");

  const foreign = await app.fetch("/api/v1/status", {
    headers: { origin: "https://evil.example" },
  });
  await foreign.body?.cancel();
  assert.equal(foreign.headers.get("access-control-allow-origin"), null);
});

Deno.test("pages carry security headers and render islands with their props", async () => {
  await using app = await startTestApp();
  const res = await app.fetch("/");
  assert.equal(res.status, 200);
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  await res.body?.cancel();
  // A page with an island: the chat, signed in.
  const { createUser } = await import("../lib/accounts/users.ts");
  const { createSession } = await import("../lib/accounts/credentials.ts");
  const user = await createUser(app.server.db.sql, {
    email: "islands@example.com",
    password: "long enough",
  });
  const { token } = await createSession(app.server.db.sql, user.id);
  const chat = await app.fetch("/chat", { headers: { cookie: `hk_session=${token}` } });
  assert.equal(chat.status, 200);
  const html = await chat.text();
  const island = html.match(/data-island="Chat" data-island-src="([^"]+)"/);
  assert.ok(island, "the island is marked");
  const props = html.match(
    /<script type="application\/json" id="island-1-props">([^<]*)<\/script>/,
  );
  assert.equal(typeof JSON.parse(props![1]).balance, "number");
  const entry = html.match(/<script type="module" src="([^"]+)"/)![1];
  for (const src of [entry, island[1]]) {
    const js = await app.fetch(src);
    assert.equal(js.status, 200, src);
    assert.match(js.headers.get("content-type") ?? "", /javascript/);
    assert.match(js.headers.get("cache-control") ?? "", /immutable/);
    await js.body?.cancel();
  }
});

Deno.test("every request is logged with a request id, and no phone or e-mail reaches the log", async () => {
  await using app = await startTestApp();
  const res = await app.fetch("/api/v1/users/+263771234567/tendai@example.com");
  await res.body?.cancel();
  const requestId = res.headers.get("x-request-id");
  assert.ok(requestId);
  const line = app.logs.map((l) => JSON.parse(l)).find((l) => l.msg === "request");
  assert.equal(line.requestId, requestId);
  assert.equal(line.status, 404);
  const all = app.logs.join("\n");
  assert.ok(!all.includes("771234567"), all);
  assert.ok(!all.includes("tendai@example.com"), all);
});

Deno.test("shutdown finishes in-flight requests, then stops listening", async () => {
  const app = await startTestApp();
  let released = false;
  let started!: () => void;
  const handlerStarted = new Promise<void>((r) => started = r);
  app.server.app.get("/__test/slow", async (c) => {
    started();
    await new Promise((r) => setTimeout(r, 300));
    released = true;
    return c.text("finished");
  });
  const inFlight = app.fetch("/__test/slow");
  await handlerStarted; // the request is being handled: now it counts as in flight
  await app.server.shutdown();
  const res = await inFlight;
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "finished");
  assert.ok(released);
  await assert.rejects(fetch(app.url + "/health"));
  await app.close();
});

Deno.test("a production start with missing secrets is refused, naming every variable", async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    const out = await denoCommand(["run", "-A", "main.ts"], {
      HURUKURO_ENV: "production",
      DATA_DIR: dataDir,
      PORT: "0",
      OPENAI_API_KEY: "sk-real",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 78, stderr);
    for (
      const name of [
        "APP_SECRET",
        "ENCRYPTION_KEY",
        "PUBLIC_URL",
        "METRICS_TOKEN",
        "PAYNOW_INTEGRATION_ID",
        "SMTP_URL",
      ]
    ) {
      assert.ok(stderr.includes(name), `${name} missing from: ${stderr}`);
    }
    assert.ok(!stderr.includes("OPENAI_API_KEY"), "a configured variable is not reported");
    assert.ok(!stderr.includes("    at "), "no stack trace");
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test({
  name: "a second process on the same DATA_DIR is refused with a clear message",
  ignore: Boolean(Deno.env.get("DATABASE_URL")), // the lock guards the embedded database only
  async fn() {
    const app = await startTestApp();
    try {
      const out = await denoCommand(["run", "-A", "main.ts"], {
        HURUKURO_ENV: "test",
        DATA_DIR: app.dataDir,
        PORT: "0",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 78, stderr);
      assert.match(stderr, /already in use by another Hurukuro process/);
      // The first instance is unharmed.
      assert.equal((await app.fetch("/health")).status, 200);
    } finally {
      await app.close();
    }
  },
});

Deno.test("the start command prints its banner, serves /health, and stops cleanly on SIGTERM", async () => {
  const storage = await prepareStorage();
  try {
    const child = denoCommand(["task", "start"], {
      ...storage.env,
      HURUKURO_ENV: "development",
      PORT: "0",
      LOG_LEVEL: "info",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const reader = child.stdout.getReader();
    const decoder = new TextDecoder();
    let out = "";
    const deadline = Date.now() + 30_000;
    while (!/running at (http:\S+)/.test(out) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      out += decoder.decode(value, { stream: true });
    }
    const url = out.match(/running at (http:\S+)/)?.[1];
    assert.ok(url, `no URL printed:\n${out}`);
    while (!/password: \S+\n/.test(out) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      out += decoder.decode(value, { stream: true });
    }
    // The banner: where things are, the sandbox, and the development admin's one-time sign-in.
    assert.ok(out.includes(`Admin:    ${url}/admin\n`), out);
    assert.ok(out.includes(`API docs: ${url}/api/docs\n`), out);
    assert.match(out, /Sandbox: {2}on \(ai, whatsapp, paynow, smtp/);
    const email = out.match(/e-mail: +(\S+)/)![1];
    const password = out.match(/password: +(\S+)/)![1];
    const login = await fetch(url + "/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password }),
    });
    assert.equal(login.status, 200, "the printed admin signs in");
    assert.equal((await login.json()).user.role, "admin");
    const health = await fetch(url + "/health");
    assert.equal(health.status, 200);
    await health.body?.cancel();
    child.kill("SIGTERM");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out += decoder.decode(value, { stream: true });
    }
    const status = await child.status;
    assert.equal(status.code, 0, out);
    assert.match(out, /"msg":"stopped"/);
    assert.equal(out.split(password).length, 2, "the password is printed once, never logged");
    const noise = await stderr;
    assert.doesNotMatch(noise, /Initialize|Download|Ignored build scripts/, noise.slice(0, 500));
  } finally {
    await storage.cleanup();
  }
});
