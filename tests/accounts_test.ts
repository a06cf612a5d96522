/**
 * Accounts through HTTP: tokens, password reset by e-mail, API keys, rate limits, bad input,
 * the OpenAPI document. Runs on whichever database back end the run uses.
 */
import assert from "node:assert/strict";
import SwaggerParser from "@apidevtools/swagger-parser";
import { appWithSmtp, PASSWORD, signUp, startTestApp } from "./harness.ts";
import { createSession } from "../lib/accounts/credentials.ts";
import { csrfTokenFor } from "../routes/_auth.ts";

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

Deno.test("sign-up → log-in → refresh → reusing the old refresh token revokes the family → log-out", async () => {
  await using app = await startTestApp();
  const created = await signUp(app.url, "Tendai@Example.com");
  assert.equal(
    (await (await app.fetch("/api/v1/me", { headers: bearer(created.accessToken) })).json())
      .email,
    "tendai@example.com",
  );

  const wrong = await app.fetch(
    "/api/v1/auth/login",
    json({ email: "tendai@example.com", password: "nope nope" }),
  );
  assert.equal(wrong.status, 401);
  const unknown = await app.fetch(
    "/api/v1/auth/login",
    json({ email: "nobody@example.com", password: "nope nope" }),
  );
  assert.equal(unknown.status, 401);
  assert.equal(
    (await wrong.json()).error.message,
    (await unknown.json()).error.message,
    "no hint which part was wrong",
  );

  const login = await (await app.fetch(
    "/api/v1/auth/login",
    json({ email: "tendai@example.com", password: PASSWORD }),
  )).json();
  const refreshed = await app.fetch(
    "/api/v1/auth/refresh",
    json({ refreshToken: login.refreshToken }),
  );
  assert.equal(refreshed.status, 200);
  const next = await refreshed.json();
  assert.notEqual(next.refreshToken, login.refreshToken);
  assert.equal(
    (await app.fetch("/api/v1/me", { headers: bearer(next.accessToken) })).status,
    200,
  );

  // The rotated token comes back: a thief or a replay. The whole family dies.
  const replay = await app.fetch(
    "/api/v1/auth/refresh",
    json({ refreshToken: login.refreshToken }),
  );
  assert.equal(replay.status, 401);
  const afterReplay = await app.fetch(
    "/api/v1/auth/refresh",
    json({ refreshToken: next.refreshToken }),
  );
  assert.equal(afterReplay.status, 401, "the newest token of the family is revoked too");
  // Another sign-in's family is untouched.
  const other = await app.fetch(
    "/api/v1/auth/refresh",
    json({ refreshToken: created.refreshToken }),
  );
  assert.equal(other.status, 200);
  const otherTokens = await other.json();

  const logout = await app.fetch(
    "/api/v1/auth/logout",
    json({ refreshToken: otherTokens.refreshToken }),
  );
  assert.equal(logout.status, 204);
  assert.equal(
    (await app.fetch("/api/v1/auth/refresh", json({ refreshToken: otherTokens.refreshToken })))
      .status,
    401,
  );

  assert.equal((await app.fetch("/api/v1/me")).status, 401);
  assert.equal((await app.fetch("/api/v1/me", { headers: bearer("not.a.jwt") })).status, 401);
});

Deno.test("password reset end to end through a real SMTP server: the link works once", async () => {
  await using mailing = await appWithSmtp("Hurukuro <no-reply@hurukuro.test>");
  const { app, smtp } = mailing;
  const { email } = await signUp(app.url);
  const asked = await app.fetch("/api/v1/auth/password-reset", json({ email }));
  assert.equal(asked.status, 202);
  const nobody = await app.fetch(
    "/api/v1/auth/password-reset",
    json({ email: "ghost@example.com" }),
  );
  assert.equal(nobody.status, 202, "unknown e-mails get the same answer");

  const mail = await smtp.waitFor((m) => m.to.includes(email));
  assert.equal(mail.from, "no-reply@hurukuro.test");
  const link = mail.text.match(/(http:\/\/\S+\/reset\?token=\S+)/)![1];
  assert.ok(link.startsWith(app.server.config.publicUrl));
  const token = new URL(link).searchParams.get("token")!;

  // The link opens the new-password form.
  const page = await app.fetch(new URL(link).pathname + new URL(link).search);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /Choose a new password/);

  const confirm = await app.fetch(
    "/api/v1/auth/password-reset/confirm",
    json({ token, password: "a brand new one" }),
  );
  assert.equal(confirm.status, 204);
  assert.equal(
    (await app.fetch("/api/v1/auth/login", json({ email, password: "a brand new one" }))).status,
    200,
  );
  assert.equal(
    (await app.fetch("/api/v1/auth/login", json({ email, password: PASSWORD }))).status,
    401,
  );

  const again = await app.fetch(
    "/api/v1/auth/password-reset/confirm",
    json({ token, password: "yet another one" }),
  );
  assert.equal(again.status, 400);
  assert.match((await again.json()).error.message, /expired or was already used/);
  assert.equal(smtp.messages.filter((m) => m.to.includes("ghost@example.com")).length, 0);
});

Deno.test("a reset link expires after its 30 minutes", async () => {
  await using mailing = await appWithSmtp("no-reply@hurukuro.test");
  const { app, smtp } = mailing;
  const { email } = await signUp(app.url);
  await app.fetch("/api/v1/auth/password-reset", json({ email }));
  const mail = await smtp.waitFor((m) => m.to.includes(email));
  const token = new URL(mail.text.match(/(http:\/\/\S+)/)![1]).searchParams.get("token")!;
  await app.server.db.sql`update password_resets set expires_at = now() - interval '1 second'`;
  const res = await app.fetch(
    "/api/v1/auth/password-reset/confirm",
    json({ token, password: "a brand new one" }),
  );
  assert.equal(res.status, 400);
});

Deno.test("API keys: shown once, work as bearer, owner-only, revocable", async () => {
  await using app = await startTestApp();
  const alice = await signUp(app.url);
  const bob = await signUp(app.url);
  const created = await app.fetch(
    "/api/v1/api-keys",
    json({ name: "my script" }, bearer(alice.accessToken)),
  );
  assert.equal(created.status, 201);
  const key = await created.json();
  assert.match(key.key, /^hk_[0-9A-Za-z]{40}$/);

  const me = await app.fetch("/api/v1/me", { headers: bearer(key.key) });
  assert.equal((await me.json()).id, alice.user.id);
  const listed = await (await app.fetch("/api/v1/api-keys", { headers: bearer(alice.accessToken) }))
    .json();
  assert.equal(listed.keys.length, 1);
  assert.ok(listed.keys[0].lastUsedAt, "use is recorded");
  assert.ok(!JSON.stringify(listed).includes(key.key), "the secret is never shown again");
  const [stored] = await app.server.db.sql`select key_hash from api_keys`;
  assert.notEqual(stored.key_hash, key.key);

  const bobDeletes = await app.fetch(`/api/v1/api-keys/${key.id}`, {
    method: "DELETE",
    headers: bearer(bob.accessToken),
  });
  assert.equal(bobDeletes.status, 404, "another user's key does not exist for them");
  assert.equal((await app.fetch("/api/v1/me", { headers: bearer(key.key) })).status, 200);

  const revoked = await app.fetch(`/api/v1/api-keys/${key.id}`, {
    method: "DELETE",
    headers: bearer(alice.accessToken),
  });
  assert.equal(revoked.status, 204);
  assert.equal((await app.fetch("/api/v1/me", { headers: bearer(key.key) })).status, 401);
});

Deno.test("a change made elsewhere applies at the caller's next request", async () => {
  await using app = await startTestApp();
  const alice = await signUp(app.url);
  const me = () => app.fetch("/api/v1/me", { headers: bearer(alice.accessToken) });
  assert.equal((await me()).status, 200);
  // Another process (or an operator in SQL) disables the account: nothing tells this one.
  await app.server.db.sql`update users set disabled_at = now() where id = ${alice.user.id}`;
  const refused = await me();
  assert.equal(refused.status, 403);
  assert.match((await refused.json()).error.message, /This account is disabled/);
});

Deno.test("wallet balance and ledger are the caller's own", async () => {
  await using app = await startTestApp();
  const alice = await signUp(app.url);
  const wallet = await (await app.fetch("/api/v1/wallet", { headers: bearer(alice.accessToken) }))
    .json();
  assert.deepEqual(wallet, { balance: 0, reserved: 0, available: 0 });
  const ledger = await (await app.fetch("/api/v1/wallet/ledger?limit=5", {
    headers: bearer(alice.accessToken),
  })).json();
  assert.deepEqual(ledger, { entries: [], nextCursor: null });
  const bad = await app.fetch("/api/v1/wallet/ledger?limit=500", {
    headers: bearer(alice.accessToken),
  });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error.message, /^limit:/);
});

Deno.test("the signup grant setting gives new accounts their welcome tokens, once", async () => {
  await using app = await startTestApp();
  await app.server.db.sql`insert into settings (key, value) values ('signup_grant_tokens', '25')`;
  const alice = await signUp(app.url);
  const wallet = await (await app.fetch("/api/v1/wallet", { headers: bearer(alice.accessToken) }))
    .json();
  assert.equal(wallet.balance, 25);
});

Deno.test("bad input gets a 4xx envelope naming the field, never a 500 or a partial write", async () => {
  await using app = await startTestApp();
  const cases: [RequestInit, number, RegExp][] = [
    [
      { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" },
      400,
      /json/i,
    ],
    [json({ email: "a@b.co", password: 12345678 }), 400, /password/],
    [json({ email: "not-an-email", password: "long enough" }), 400, /email/],
    [
      json({ email: "a@b.co", password: "long enough", isAdmin: true }),
      400,
      /unknown field: isAdmin/,
    ],
    [json({ email: "a@b.co", password: "short" }), 400, /password: choose at least 8/],
    [json({ email: "a@b.co", password: "x".repeat(5 * 1024 * 1024) }), 413, /larger/],
  ];
  for (const [init, status, message] of cases) {
    const res = await app.fetch("/api/v1/auth/signup", init);
    const body = await res.json();
    assert.equal(res.status, status, JSON.stringify(body));
    assert.match(body.error.message, message);
  }
  const [{ n }] = await app.server.db.sql`select count(*)::int as n from users`;
  assert.equal(n, 0, "nothing was written");
});

Deno.test("the 61st request in a minute on a 60 rpm tier gets 429 with Retry-After", async () => {
  await using app = await startTestApp();
  const alice = await signUp(app.url);
  await app.server.db.sql`update users set tier = 'standard' where id = ${alice.user.id}`;
  // Stay inside one fixed window: wait for a fresh minute if this one is nearly over.
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 45_000) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 50));
  const statuses: number[] = [];
  for (let i = 0; i < 60; i++) {
    const res = await app.fetch("/api/v1/wallet", { headers: bearer(alice.accessToken) });
    await res.body?.cancel();
    statuses.push(res.status);
  }
  assert.ok(statuses.every((s) => s === 200), statuses.join(","));
  const limited = await app.fetch("/api/v1/wallet", { headers: bearer(alice.accessToken) });
  assert.equal(limited.status, 429);
  const retryAfter = Number(limited.headers.get("retry-after"));
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  const body = await limited.json();
  assert.equal(body.error.code, "rate_limited");
  assert.match(body.error.message, /standard plan allows 60 a minute/);
});

Deno.test("browser sessions must send the CSRF token to change anything through the API", async () => {
  await using app = await startTestApp();
  const alice = await signUp(app.url);
  const { token } = await createSession(app.server.db.sql, alice.user.id);
  const cookie = { cookie: `hk_session=${token}` };
  assert.equal(
    (await app.fetch("/api/v1/me", { headers: cookie })).status,
    200,
    "reads need no token",
  );
  const patch = (headers: Record<string, string>) =>
    app.fetch("/api/v1/me", {
      method: "PATCH",
      headers: { "content-type": "application/json", ...cookie, ...headers },
      body: JSON.stringify({ displayName: "Tendai" }),
    });
  const refused = await patch({});
  assert.equal(refused.status, 403);
  const ok = await patch({
    "x-csrf-token": await csrfTokenFor(app.server.config.appSecret, token),
  });
  assert.equal(ok.status, 200);
  assert.equal((await ok.json()).displayName, "Tendai");
});

Deno.test("the OpenAPI document validates and lists every /api/v1 route", async () => {
  await using app = await startTestApp();
  const res = await app.fetch("/api/openapi.json");
  assert.equal(res.status, 200);
  const doc = await res.json();
  assert.equal(doc.openapi, "3.1.0");
  await SwaggerParser.validate(structuredClone(doc));
  const documented = new Set(
    Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)
    ),
  );
  const served = app.server.app.routes
    .filter((r) => r.path.startsWith("/api/v1/") && r.method !== "ALL")
    .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
  assert.ok(served.length >= 12, served.join("\n"));
  for (const route of served) assert.ok(documented.has(route), `${route} is not documented`);

  const docs = await app.fetch("/api/docs");
  assert.equal(docs.status, 200);
  assert.match(await docs.text(), /swagger-ui-bundle\.js/);
  const asset = await app.fetch("/api/docs/assets/swagger-ui-bundle.js");
  assert.equal(asset.status, 200);
  await asset.body?.cancel();
});

Deno.test("linking a phone: a 6-digit code, five attempts, ten minutes", async () => {
  await using app = await startTestApp();
  const alice = await signUp(app.url);
  const headers = bearer(alice.accessToken);
  const bad = await app.fetch("/api/v1/me/phone", json({ phone: "12345" }, headers));
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error.message, /^phone:/);

  const sent = await app.fetch("/api/v1/me/phone", json({ phone: "077 123 4567" }, headers));
  assert.equal(sent.status, 202);
  assert.equal((await sent.json()).phone, "+263771234567");
  const [link] = await app.server.db.sql`select code_hash from phone_links`;
  assert.doesNotMatch(link.code_hash, /^\d{6}$/, "only a hash of the code is stored");

  // The code travels over WhatsApp; here a fresh link is made directly to know its code.
  const { startPhoneLink } = await import("../lib/accounts/phone_link.ts");
  const { code } = await startPhoneLink(app.server.db.sql, alice.user.id, "+263771234567");
  assert.match(code, /^\d{6}$/);
  const wrongCode = code === "000000" ? "000001" : "000000";
  for (let left = 4; left >= 1; left--) {
    const res = await app.fetch("/api/v1/me/phone/verify", json({ code: wrongCode }, headers));
    assert.equal(res.status, 400);
    assert.match((await res.json()).error.message, new RegExp(`${left} attempts? left`));
  }
  await (await app.fetch("/api/v1/me/phone/verify", json({ code: wrongCode }, headers))).body
    ?.cancel();
  const locked = await app.fetch("/api/v1/me/phone/verify", json({ code }, headers));
  assert.equal(locked.status, 429, "after five wrong codes even the right one is refused");

  await app.fetch("/api/v1/me/phone", json({ phone: "0771234567" }, headers));
  const [fresh] = await app.server.db
    .sql`select id, code_hash from phone_links order by created_at desc limit 1`;
  await app.server.db
    .sql`update phone_links set expires_at = now() - interval '1 second' where id = ${fresh.id}`;
  const expired = await app.fetch("/api/v1/me/phone/verify", json({ code: "123456" }, headers));
  assert.equal(expired.status, 400);
  assert.match((await expired.json()).error.message, /expired/);
});

Deno.test("the first admin comes from ADMIN_EMAIL/ADMIN_PASSWORD, once", async () => {
  const app = await startTestApp({
    env: { ADMIN_EMAIL: "boss@hurukuro.example", ADMIN_PASSWORD: "a long admin passphrase" },
  });
  try {
    const login = await app.fetch(
      "/api/v1/auth/login",
      json({ email: "boss@hurukuro.example", password: "a long admin passphrase" }),
    );
    assert.equal(login.status, 200);
    assert.equal((await login.json()).user.role, "admin");
    const { ensureAdmin } = await import("../lib/accounts/users.ts");
    assert.equal(
      await ensureAdmin(app.server.db.sql, {
        email: "BOSS@hurukuro.example",
        password: "other password",
      }),
      "exists",
    );
  } finally {
    await app.close();
  }
});

Deno.test("anonymous callers are limited per IP address", async () => {
  // The limit counts per minute of the clock: a run that crosses into the next minute (a slow,
  // loaded machine) starts a new count, so it is run again in a fresh app.
  for (let attempt = 1;; attempt++) {
    const app = await startTestApp();
    try {
      const intoMinute = Date.now() % 60_000;
      if (intoMinute > 45_000) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 50));
      const minute = Math.floor(Date.now() / 60_000);
      const statuses: number[] = [];
      for (let i = 0; i < 31; i++) {
        const res = await app.fetch(
          "/api/v1/auth/login",
          // A different e-mail each time: the per-account throttle is not what this checks.
          json({ email: `x-${i}@example.com`, password: "wrong one" }),
        );
        await res.body?.cancel();
        statuses.push(res.status);
      }
      if (Math.floor(Date.now() / 60_000) !== minute && attempt < 3) continue;
      assert.deepEqual(statuses.slice(0, 30).filter((s) => s !== 401), []);
      assert.equal(statuses[30], 429);
      return;
    } finally {
      await app.close();
    }
  }
});

Deno.test("the daily token cap of a tier refuses work past it, in a sentence", async () => {
  await using app = await startTestApp();
  const alice = await signUp(app.url);
  const { post } = await import("../lib/wallet/ledger.ts");
  const { assertWithinDailyCap, listTiers } = await import("../lib/accounts/tiers.ts");
  const sql = app.server.db.sql;
  await post(sql, {
    userId: alice.user.id,
    kind: "purchase_credit",
    delta: 30_000,
    idempotencyKey: "p",
    description: "x",
  });
  await post(sql, {
    userId: alice.user.id,
    kind: "usage_debit",
    delta: -19_000,
    idempotencyKey: "u",
    description: "x",
  });
  const free = (await listTiers(sql)).find((t) => t.name === "free")!;
  const input = { userId: alice.user.id, tier: free, timeZone: "Africa/Harare" };
  await assertWithinDailyCap(sql, { ...input, estimate: 1_000 });
  await assert.rejects(
    assertWithinDailyCap(sql, { ...input, estimate: 1_001 }),
    /used 19,000 of your 20,000 tokens for today on the free plan/,
  );
});
