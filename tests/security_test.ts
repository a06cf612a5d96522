/**
 * The defences at the input boundary, through HTTP: text that Postgres cannot store, statuses
 * that pages must keep, password guessing per account, the Origin check beside the CSRF token,
 * bodies without a content type, the metrics token, and e-mail with the sandbox switched off.
 * Runs on whichever database back end the run uses.
 */
import assert from "node:assert/strict";
import { appWithSmtp, fundedUser, PASSWORD, startTestApp } from "./harness.ts";
import { postForm, visitForm } from "./fixtures/forms.ts";
import { createSession } from "../lib/accounts/credentials.ts";
import { completePasswordReset, startPasswordReset } from "../lib/accounts/password_reset.ts";
import { createMetrics } from "../lib/observability/metrics.ts";
import { createApp } from "../routes/_app.tsx";
import { csrfTokenFor } from "../routes/_auth.ts";

const send = (method: string, body: unknown, headers: Record<string, string> = {}) => ({
  method,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});
const json = (body: unknown, headers: Record<string, string> = {}) => send("POST", body, headers);

/** Waits for the start of a fresh minute when this one is nearly over (fixed-window limits). */
async function freshMinuteIfLate(lateMs: number) {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > lateMs) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 50));
}

Deno.test("NUL or an unpaired surrogate in any text field is a 400 naming the field, never a 500 or a write", async () => {
  await using app = await startTestApp();
  const alice = await fundedUser(app, 100_000);
  const created = await app.fetch("/api/v1/conversations", json({ title: "ok" }, alice.auth));
  assert.equal(created.status, 201);
  const conversation = (await created.json()).id;
  const [{ n: usersBefore }] = await app.server.db.sql`select count(*)::int as n from users`;

  for (const bad of ["nul\u0000inside", "lone \ud800 high", "lone \udc00 low"]) {
    const cases: [string, RequestInit, string][] = [
      [
        "/api/v1/auth/signup",
        json({
          email: `n-${crypto.randomUUID()}@example.com`,
          password: "long enough",
          displayName: bad,
        }),
        "displayName",
      ],
      ["/api/v1/me", send("PATCH", { displayName: bad }, alice.auth), "displayName"],
      ["/api/v1/api-keys", json({ name: bad }, alice.auth), "name"],
      ["/api/v1/conversations", json({ title: bad }, alice.auth), "title"],
      [`/api/v1/conversations/${conversation}/messages`, json({ text: bad }, alice.auth), "text"],
      ["/api/v1/essays", json({ text: bad }, alice.auth), "text"],
      ["/api/v1/chats", json({ text: bad }, alice.auth), "text"],
    ];
    for (const [path, init, field] of cases) {
      const res = await app.fetch(path, init);
      const text = await res.text();
      assert.equal(res.status, 400, `${path} ${JSON.stringify(bad)}: ${text}`);
      const body = JSON.parse(text);
      assert.equal(body.error.code, "validation_failed");
      assert.match(body.error.message, new RegExp(`^${field}: `), body.error.message);
    }
  }

  const visit = await visitForm(app, "/signup");
  const form = await postForm(app, "/signup", visit, {
    email: `f-${crypto.randomUUID()}@example.com`,
    password: "long enough",
    displayName: "nul\u0000inside",
  });
  const html = await form.text();
  assert.equal(form.status, 400, html);
  assert.match(html, /displayName: contains a character that cannot be stored/);

  const [{ n: usersAfter }] = await app.server.db.sql`select count(*)::int as n from users`;
  assert.equal(usersAfter, usersBefore, "no account was created");
  const [{ n: messages }] = await app.server.db.sql`select count(*)::int as n from messages`;
  assert.equal(messages, 0, "no message was stored");
  const [{ n: keys }] = await app.server.db.sql`select count(*)::int as n from api_keys`;
  assert.equal(keys, 0, "no key was created");
});

Deno.test("pages keep the statuses the API gives: 413, 415 and 429 with Retry-After", async () => {
  await using app = await startTestApp();
  const visit = await visitForm(app, "/login");
  const huge = await postForm(app, "/login", visit, {
    email: "x@example.com",
    password: "x".repeat(5 * 1024 * 1024),
  });
  assert.equal(huge.status, 413, await huge.text());

  const untyped = await app.fetch("/login", {
    method: "POST",
    headers: { cookie: visit.cookie },
    body: new TextEncoder().encode(`_csrf=${visit.csrf}&email=a%40b.co&password=x`),
  });
  const untypedHtml = await untyped.text();
  assert.equal(untyped.status, 415, untypedHtml);
  assert.match(untypedHtml, /^<!doctype html>/);

  // Found by the fuzz suite: a multipart form without its boundary failed every form with 500.
  const unbounded = await app.fetch("/login", {
    method: "POST",
    headers: { cookie: visit.cookie, "content-type": "multipart/form-data" },
    body: new TextEncoder().encode("%"),
  });
  assert.equal(unbounded.status, 400, await unbounded.text());

  await freshMinuteIfLate(45_000);
  let statuses: number[] = [];
  let last: Response | undefined;
  // The limit counts per minute of the clock: a loop that crosses into the next minute (a slow,
  // loaded machine) starts a new count, so it goes on in that minute once more.
  for (let attempt = 1; attempt <= 2 && last?.status !== 429; attempt++) {
    const minute = Math.floor(Date.now() / 60_000);
    statuses = [];
    for (let i = 0; i < 31 && last?.status !== 429; i++) {
      // A different e-mail each time: the per-address limit is what this checks.
      last = await postForm(app, "/login", visit, {
        email: `nobody-${attempt}-${i}@example.com`,
        password: "wrong password",
      });
      statuses.push(last.status);
      if (last.status !== 429) await last.body?.cancel();
    }
    if (Math.floor(Date.now() / 60_000) === minute) break;
  }
  assert.equal(last!.status, 429, statuses.join(","));
  assert.ok(statuses.slice(0, -1).every((s) => s === 401), statuses.join(","));
  const retryAfter = Number(last!.headers.get("retry-after"));
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  assert.match(await last!.text(), /Too many requests: 30 a minute are allowed/);
});

Deno.test("password guessing is throttled per account, unknown e-mails alike, with an e-mail to the owner once", async () => {
  await using mailing = await appWithSmtp("Hurukuro <no-reply@hurukuro.test>");
  const { app, smtp } = mailing;
  // Fewer than the 30 anonymous requests a minute from one address are made here.
  const alice = await fundedUser(app);
  const login = (email: string, password: string) =>
    app.fetch("/api/v1/auth/login", json({ email, password }));
  const guess = async (email: string) => {
    const messages: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await login(email, `wrong guess ${i}`);
      assert.equal(res.status, 401, `guess ${i + 1}`);
      messages.push((await res.json()).error.message);
    }
    // Even the right password is not tried while the account is throttled.
    const refused = await login(email, PASSWORD);
    assert.equal(refused.status, 429);
    const retryAfter = Number(refused.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= 15 * 60, `Retry-After ${retryAfter}`);
    const body = await refused.json();
    assert.equal(body.error.code, "rate_limited");
    return { messages, refusal: body.error.message.replace(/\d+/g, "N") as string };
  };
  const known = await guess(alice.email);
  const unknown = await guess(`nobody-${crypto.randomUUID()}@example.com`);
  assert.deepEqual(unknown, known, "an unknown e-mail is answered exactly like a real one");
  assert.match(known.refusal, /Too many failed log-ins/);
  assert.match(known.refusal, /reset your password/);

  const alert = await smtp.waitFor((m) => m.to.includes(alice.email));
  assert.match(alert.subject, /log-in/i);
  assert.doesNotMatch(alert.text, /wrong guess/, "the guesses are not repeated to anyone");

  // The window passes: one more failure throttles again (for longer), without a second e-mail.
  const sql = app.server.db.sql;
  await sql`update login_throttles set blocked_until = now() - interval '1 second'`;
  assert.equal((await login(alice.email, "wrong again")).status, 401);
  const longer = await login(alice.email, PASSWORD);
  assert.equal(longer.status, 429);
  await longer.body?.cancel();
  assert.ok(Number(longer.headers.get("retry-after")) > 15, "the window doubled");

  // A success ends the episode: the count starts again from zero.
  await sql`update login_throttles set blocked_until = now() - interval '1 second'`;
  assert.equal((await login(alice.email, PASSWORD)).status, 200);
  for (let i = 0; i < 4; i++) {
    assert.equal((await login(alice.email, "wrong")).status, 401, `fresh count ${i + 1}`);
  }
  assert.equal((await login(alice.email, PASSWORD)).status, 200);

  const metrics = await (await app.fetch("/metrics")).text();
  assert.match(metrics, /^hurukuro_login_failures_total 15$/m);
  assert.match(metrics, /^hurukuro_login_throttled_total 3$/m);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(smtp.messages.filter((m) => m.to.includes(alice.email)).length, 1);
});

Deno.test("the log-in form is throttled the same way, and resetting the password lifts it", async () => {
  await using app = await startTestApp();
  const bob = await fundedUser(app);
  const visit = await visitForm(app, "/login");
  for (let i = 0; i < 5; i++) {
    const res = await postForm(app, "/login", visit, { email: bob.email, password: "wrong" });
    assert.equal(res.status, 401, await res.text());
  }
  const page = await postForm(app, "/login", visit, {
    email: bob.email,
    password: PASSWORD,
  });
  assert.equal(page.status, 429);
  assert.ok(Number(page.headers.get("retry-after")) >= 1);
  assert.match(await page.text(), /role="alert">Too many failed log-ins/);
  const sql = app.server.db.sql;
  const reset = await startPasswordReset(sql, bob.email);
  await completePasswordReset(sql, reset!.token, "a new password");
  const after = await postForm(app, "/login", visit, {
    email: bob.email,
    password: "a new password",
  });
  assert.equal(after.status, 303, await after.text());
});

Deno.test("cookie-authenticated changes from another origin are refused; bearer calls are not", async () => {
  await using app = await startTestApp({ env: { CORS_ORIGINS: "https://app.hurukuro.example" } });
  const alice = await fundedUser(app);
  const { token } = await createSession(app.server.db.sql, alice.userId);
  const cookieHeaders = {
    cookie: `hk_session=${token}`,
    "x-csrf-token": await csrfTokenFor(app.server.config.appSecret, token),
  };
  const patch = (headers: Record<string, string>) =>
    app.fetch("/api/v1/me", send("PATCH", { displayName: "Tendai" }, headers));

  const foreign = await patch({ ...cookieHeaders, origin: "https://evil.example" });
  assert.equal(foreign.status, 403);
  const body = await foreign.json();
  assert.equal(body.error.code, "forbidden");
  assert.match(body.error.message, /origin/i);

  const referred = await patch({ ...cookieHeaders, referer: "https://evil.example/page" });
  assert.equal(referred.status, 403);
  await referred.body?.cancel();

  for (
    const origin of [new URL(app.server.config.publicUrl).origin, "https://app.hurukuro.example"]
  ) {
    const ok = await patch({ ...cookieHeaders, origin });
    assert.equal(ok.status, 200, `${origin}: ${await ok.clone().text()}`);
    await ok.body?.cancel();
  }
  const ownReferer = await patch({
    ...cookieHeaders,
    referer: `${app.server.config.publicUrl}/account`,
  });
  assert.equal(ownReferer.status, 200);
  await ownReferer.body?.cancel();

  const bearer = await patch({ ...alice.auth, origin: "https://evil.example" });
  assert.equal(bearer.status, 200, "bearer calls carry no ambient credential");
  await bearer.body?.cancel();

  // The pages' forms too: an HTML page with the same status.
  const visit = await visitForm(app, "/login");
  const form = await postForm(
    app,
    "/login",
    visit,
    { email: alice.email, password: PASSWORD },
    { origin: "https://evil.example" },
  );
  assert.equal(form.status, 403);
  assert.match(await form.text(), /^<!doctype html>/);
});

Deno.test("a body without a content type is a 415 in the envelope", async () => {
  await using app = await startTestApp();
  const res = await app.fetch("/api/v1/auth/login", {
    method: "POST",
    body: new TextEncoder().encode(JSON.stringify({ email: "a@b.co", password: "x" })),
  });
  assert.equal(res.status, 415);
  const body = await res.json();
  assert.equal(body.error.code, "unsupported_media_type");
  assert.match(body.error.message, /Content-Type/);
});

Deno.test("GET /metrics asks for METRICS_TOKEN when one is set", async () => {
  await using app = await startTestApp({ env: { METRICS_TOKEN: "metrics-token-for-tests" } });
  const none = await app.fetch("/metrics");
  assert.equal(none.status, 401);
  assert.match(none.headers.get("www-authenticate") ?? "", /^Bearer/);
  assert.doesNotMatch(await none.text(), /hurukuro_/);
  const wrong = await app.fetch("/metrics", { headers: { authorization: "Bearer nope" } });
  assert.equal(wrong.status, 401);
  await wrong.body?.cancel();
  const right = await app.fetch("/metrics", {
    headers: { authorization: "Bearer metrics-token-for-tests" },
  });
  assert.equal(right.status, 200);
  assert.match(await right.text(), /hurukuro_http_requests_total/);
});

Deno.test("SANDBOX=0 without SMTP_URL switches e-mail off instead of faking it", async () => {
  await using app = await startTestApp({ env: { SANDBOX: "0" } });
  const logs = app.logs.map((l) => JSON.parse(l));
  assert.ok(!logs.some((l) => /built-in SMTP/.test(l.msg)), "no fake SMTP server started");
  assert.equal(logs.filter((l) => /e-mail is off/.test(l.msg)).length, 1, "said once");
  // Asking for a reset link still answers as always (no e-mail is sent, nothing fails).
  const { email } = await fundedUser(app);
  const res = await app.fetch("/api/v1/auth/password-reset", json({ email }));
  assert.equal(res.status, 202);
  await res.body?.cancel();
});

Deno.test("slow clients holding 200 connections half-open do not delay /health", async () => {
  const app = await startTestApp();
  const url = new URL(app.url);
  const slow: Deno.Conn[] = [];
  let dripping = true;
  try {
    for (let i = 0; i < 200; i++) {
      const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
      await conn.write(
        new TextEncoder().encode(`GET /health HTTP/1.1\r\nHost: ${url.host}\r\nX-Slow: `),
      );
      slow.push(conn);
    }
    // A byte of a header value now and then, never the end of the headers (slow-loris).
    const drip = (async () => {
      while (dripping) {
        await new Promise((r) => setTimeout(r, 200));
        for (const conn of slow) await conn.write(new Uint8Array([0x61])).catch(() => {});
      }
    })();
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const res = await app.fetch("/health");
      await res.body?.cancel();
      assert.equal(res.status, 200);
      times.push(performance.now() - started);
    }
    dripping = false;
    await drip;
    assert.ok(Math.max(...times) < 1000, `slowest /health: ${Math.round(Math.max(...times))} ms`);
  } finally {
    dripping = false;
    for (const conn of slow) {
      try {
        conn.close();
      } catch { /* closed by the server */ }
    }
    await app.close();
  }
});

Deno.test("a database refusal of text that escaped the rule is a 400, not a 500", async () => {
  await using app = await startTestApp();
  const { db } = app.server;
  const hono = createApp(
    { ...app.server, metrics: createMetrics(), jobs: app.server.queue, version: "test" },
    { bodyLimit: 1024 },
  );
  // A route that writes a field without the rule, as a future one might.
  hono.post("/probe", async (c) => {
    await db.sql`select ${await c.req.text()}::text`;
    return c.text("stored");
  });
  const res = await hono.request("/probe", { method: "POST", body: "nul\u0000inside" });
  const html = await res.text();
  assert.equal(res.status, 400, html);
  assert.match(html, /cannot be stored/);
  assert.ok(app.logs.some((l) => l.includes("text the database cannot store reached it")));
});
