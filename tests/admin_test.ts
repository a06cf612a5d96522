/**
 * The admin dashboard through HTTP (routes/admin): who gets in, CSRF on every form, each action
 * doing its work and leaving its audit row, filters and pagination, masking, the metrics JSON and
 * the live feed. Runs on whichever database back end the run uses.
 */
import assert from "node:assert/strict";
import { staffUser, startTestApp, type TestApp } from "./harness.ts";
import { startFakePaynow } from "../lib/sandbox/paynow.ts";
import { createTestTables, testHandlers } from "./fixtures/test_jobs.ts";
import { getSetting } from "../lib/accounts/settings.ts";
import { createUser } from "../lib/accounts/users.ts";
import { recordDay } from "../lib/metrics/daily.ts";
import { addDays, dayIn } from "../lib/metrics/days.ts";
import { getBalance, post } from "../lib/wallet/ledger.ts";
import { postForm, signedIn } from "./fixtures/forms.ts";
import { answerOnce } from "../lib/chat/mod.ts";
import { seedDefaultConfig, setApiKey } from "../lib/chat/configs.ts";
import { startFakeOpenAI } from "../lib/sandbox/openai.ts";
import { paynowEnv } from "./fixtures/paynow.ts";
import { paidPayment } from "./fixtures/payments.ts";

interface Browser {
  cookie: string;
  csrf: string;
  get(path: string): Promise<Response>;
  html(path: string): Promise<string>;
  /** Posts a form with the CSRF token (unless `_csrf` is given); returns the redirect target. */
  submit(path: string, fields?: Record<string, string>): Promise<string>;
}

async function signIn(app: TestApp, userId: string, admin: boolean): Promise<Browser> {
  const visit = await signedIn(app, userId, admin);
  const get = (path: string) =>
    app.fetch(path, { headers: { cookie: visit.cookie }, redirect: "manual" });
  return {
    ...visit,
    get,
    async html(path) {
      const res = await get(path);
      const body = await res.text();
      assert.equal(res.status, 200, `${path}: ${res.status} ${body.slice(0, 300)}`);
      return body;
    },
    async submit(path, fields = {}) {
      const res = await postForm(app, path, visit, fields);
      const body = await res.text();
      assert.equal(res.status, 303, `${path}: ${res.status} ${body.slice(0, 300)}`);
      return res.headers.get("location")!;
    },
  };
}

async function setup(options: Parameters<typeof startTestApp>[0] = {}) {
  const app = await startTestApp(options);
  const sql = app.server.db.sql;
  const admin = await staffUser(app, "boss@example.com", "admin");
  const user = await createUser(sql, {
    email: "tendai@example.com",
    password: "long enough password",
    displayName: "Tendai Moyo",
  });
  await sql`update users set phone = '+263771234567' where id = ${user.id}`;
  return { app, sql, admin, user, browser: await signIn(app, admin.id, true) };
}

const auditRows = (app: TestApp, action: string) =>
  app.server.db.sql`select l.*, u.email as actor from audit_log l
                    left join users u on u.id = l.actor_id
                    where action = ${action} order by id`;

Deno.test("only an admin's browser session gets in; everyone else is sent to log in or gets a 404", async () => {
  const { app, admin, user, browser } = await setup();
  try {
    const anonymous = await app.fetch("/admin/users?q=a", { redirect: "manual" });
    await anonymous.body?.cancel();
    assert.equal(anonymous.status, 303);
    assert.equal(anonymous.headers.get("location"), "/login?next=%2Fadmin%2Fusers%3Fq%3Da");
    for (const path of ["/admin/api/metrics", "/admin/api/feed"]) {
      const res = await app.fetch(path, { redirect: "manual" });
      await res.body?.cancel();
      assert.equal(res.status, 404, path);
    }

    const person = await signIn(app, user.id, false);
    const unknown = await app.fetch("/admin/no-such-page", { headers: { cookie: person.cookie } });
    const unknownBody = await unknown.text();
    for (const path of ["/admin", "/admin/users", `/admin/users/${user.id}`, "/admin/api/feed"]) {
      const res = await person.get(path);
      const body = await res.text();
      assert.equal(res.status, 404, path);
      // The same page as any unknown URL: nothing says an admin area exists.
      assert.equal(
        body.replace(path, "PATH"),
        unknownBody.replace("/admin/no-such-page", "PATH"),
      );
    }
    const posted = await app.fetch(`/admin/users/${user.id}/adjust`, {
      method: "POST",
      headers: { cookie: person.cookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: person.csrf, delta: "1000", reason: "free money" }),
    });
    await posted.body?.cancel();
    assert.equal(posted.status, 404);

    // An admin's API token is not a way in: the dashboard is for browser sessions.
    const login = await app.fetch("/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "boss@example.com", password: "long enough password" }),
    });
    const { accessToken } = await login.json();
    const viaToken = await app.fetch("/admin", {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    await viaToken.body?.cancel();
    assert.equal(viaToken.status, 404);

    const res = await browser.get("/admin");
    const html = await res.text();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.match(res.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    assert.match(html, /<h1>Overview<\/h1>/);
    assert.match(html, /data-island="MetricsChart"/);
    assert.match(html, /data-island="LiveFeed"/);
    assert.match(html, /href="\/static\/admin.css"/);
    assert.doesNotMatch(
      html,
      /<script(?![^>]*(type="application\/json"|src=))/,
      "no inline script",
    );
    assert.doesNotMatch(html, /style="/, "no inline style");
    assert.ok(html.includes(admin.email!));
  } finally {
    await app.close();
  }
});

/** Signs in through the log-in form, as a browser does; returns the session cookie it set. */
async function logInThroughForm(app: TestApp, email: string, password: string): Promise<string> {
  const page = await app.fetch("/login");
  const anon = page.headers.getSetCookie().find((c) => c.startsWith("hk_anon="))!.split(";")[0];
  const csrf = (await page.text()).match(/name="_csrf" value="([^"]+)"/)![1];
  const res = await app.fetch("/login", {
    method: "POST",
    headers: { cookie: anon, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: csrf, email, password }),
    redirect: "manual",
  });
  assert.equal(res.status, 303, await res.text());
  return res.headers.getSetCookie().find((c) => c.startsWith("hk_session="))!.split(";")[0];
}

Deno.test("the role is read on every request: a promoted user signs in again for an admin session; a demoted admin is out at once", async () => {
  const { app, sql, user, browser } = await setup();
  try {
    const ordinary = await logInThroughForm(app, "tendai@example.com", "long enough password");
    const get = (cookie: string) =>
      app.fetch("/admin/users", { headers: { cookie }, redirect: "manual" });
    assert.equal((await get(ordinary)).status, 404);

    // Promoted while signed in: the role is seen at once, but a 14-day session never opens
    // the dashboard (admin sessions last 8 hours).
    await sql`update users set role = 'admin' where id = ${user.id}`;
    assert.equal((await get(ordinary)).status, 404);
    assert.equal((await app.fetch("/api/v1/me", { headers: { cookie: ordinary } })).status, 200);

    const asAdmin = await logInThroughForm(app, "tendai@example.com", "long enough password");
    const [session] = await sql`
      select extract(epoch from expires_at - created_at)::int / 3600 as hours from sessions
      where user_id = ${user.id} order by created_at desc limit 1`;
    assert.equal(session.hours, 8);
    assert.equal((await get(asAdmin)).status, 200);

    // Demoted: the same admin session is refused at the next request.
    await sql`update users set role = 'user' where id = ${user.id}`;
    assert.equal((await get(asAdmin)).status, 404);
    assert.equal((await browser.get("/admin/users")).status, 200, "other admins are unaffected");
  } finally {
    await app.close();
  }
});

Deno.test("every admin form is refused without its CSRF token, and changes nothing", async () => {
  const { app, sql, user, browser } = await setup();
  try {
    const forms: [string, Record<string, string>][] = [
      [`/admin/users/${user.id}/adjust`, { delta: "100", reason: "test", nonce: "n".repeat(20) }],
      [`/admin/users/${user.id}/tier`, { tier: "pro" }],
      [`/admin/users/${user.id}/disable`, { reason: "test" }],
      ["/admin/settings/values", { signup_grant_tokens: "5", payment_expiry_minutes: "30" }],
      ["/admin/settings/tiers/free", { requests_per_minute: "1", daily_token_cap: "0" }],
    ];
    for (const [path, fields] of forms) {
      for (const token of [undefined, "0".repeat(40)]) {
        const res = await app.fetch(path, {
          method: "POST",
          headers: { cookie: browser.cookie, "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams(token ? { ...fields, _csrf: token } : fields),
          redirect: "manual",
        });
        assert.equal(res.status, 403, path);
        assert.match(await res.text(), /did not come from our site/);
      }
    }
    const [u] = await sql`select tier, disabled_at from users where id = ${user.id}`;
    assert.equal(u.tier, "free");
    assert.equal(u.disabled_at, null);
    assert.equal((await getBalance(sql, user.id)).balance, 0);
    assert.equal((await sql`select count(*)::int as n from audit_log`)[0].n, 0);
  } finally {
    await app.close();
  }
});

Deno.test("users: search by e-mail, phone and name; adjust, change tier, disable and enable, all audited", async () => {
  const { app, sql, admin, user, browser } = await setup();
  try {
    for (let i = 0; i < 30; i++) {
      await createUser(sql, { email: `filler${i}@example.com`, password: "long enough pass" });
    }
    for (const q of ["tendai@", "771234", "moyo"]) {
      const html = await browser.html(`/admin/users?q=${encodeURIComponent(q)}`);
      assert.ok(html.includes(`/admin/users/${user.id}`), q);
      assert.ok(!html.includes("filler1@example.com"), q);
    }
    assert.match(await browser.html("/admin/users?q=%25"), /No users match/, "% is literal");
    // Pagination: 32 users, 25 a page.
    const first = await browser.html("/admin/users");
    assert.match(first, /rel="next"/);
    const second = await browser.html("/admin/users?page=2");
    assert.equal((second.match(/href="\/admin\/users\/[0-9a-f-]{36}"/g) ?? []).length, 7);

    const page = `/admin/users/${user.id}`;
    const nonce = "adjust-nonce-000001";
    const reason = "Refund for the outage of 3 March";
    assert.equal(
      await browser.submit(`${page}/adjust`, { delta: "2500", reason, nonce }),
      `${page}?notice=adjusted`,
    );
    // A double submit of the same form posts nothing more.
    await browser.submit(`${page}/adjust`, { delta: "2500", reason, nonce });
    assert.equal((await getBalance(sql, user.id)).balance, 2500);
    const entries = await sql`select * from ledger_entries where user_id = ${user.id}`;
    assert.equal(entries.length, 1);
    assert.equal(entries[0].kind, "admin_adjustment");
    assert.equal(entries[0].admin_id, admin.id);
    assert.equal(entries[0].description, reason);
    const [adjusted] = await auditRows(app, "user.adjust_balance");
    assert.equal((await auditRows(app, "user.adjust_balance")).length, 1);
    const auditPage = await browser.html("/admin/audit?action=user.adjust_balance");
    assert.ok(auditPage.includes("user tendai@example.com</a>"), "the target named by e-mail");
    assert.equal(adjusted.actor, "boss@example.com");
    assert.equal(adjusted.target_id, user.id);
    assert.equal(adjusted.reason, reason);
    assert.deepEqual(adjusted.before, { balance: 0 });
    assert.equal(adjusted.after.balance, 2500);
    assert.equal(adjusted.after.delta, 2500);

    // Refused: no reason, a zero or absurd amount, more than the user has.
    assert.match(
      await browser.submit(`${page}/adjust`, {
        delta: "10",
        reason: " ",
        nonce: "n-000000000000002",
      }),
      /problem=reason/,
    );
    assert.match(
      await browser.submit(`${page}/adjust`, { delta: "0", reason, nonce: "n-000000000000003" }),
      /problem=amount/,
    );
    assert.match(
      await browser.submit(`${page}/adjust`, {
        delta: "-9999",
        reason,
        nonce: "n-000000000000004",
      }),
      /problem=insufficient/,
    );
    assert.match(await browser.html(`${page}?problem=insufficient`), /role="alert"/);
    await browser.submit(`${page}/adjust`, {
      delta: "-500",
      reason: "Mistake",
      nonce: "n-000000000000005",
    });
    assert.equal((await getBalance(sql, user.id)).balance, 2000);
    assert.equal((await auditRows(app, "user.adjust_balance")).length, 2);

    const detail = await browser.html(page);
    assert.match(detail, /data-testid="balance">2000</);
    assert.ok(detail.includes(reason), "the ledger shows the reason");
    assert.ok(detail.includes("boss@example.com"), "and who adjusted");

    assert.equal(await browser.submit(`${page}/tier`, { tier: "pro" }), `${page}?notice=tier`);
    assert.match(await browser.submit(`${page}/tier`, { tier: "platinum" }), /problem=tier/);
    const [tier] = await auditRows(app, "user.change_tier");
    assert.deepEqual([tier.before, tier.after], [{ tier: "free" }, { tier: "pro" }]);

    // Disabled: the user's tokens stop working; enabled again later.
    const login = await app.fetch("/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "tendai@example.com", password: "long enough password" }),
    });
    const { accessToken } = await login.json();
    const me = () =>
      app.fetch("/api/v1/me", { headers: { authorization: `Bearer ${accessToken}` } });
    assert.equal((await me()).status, 200);
    assert.match(await browser.submit(`${page}/disable`, { reason: "" }), /problem=reason/);
    assert.equal(
      await browser.submit(`${page}/disable`, { reason: "Chargeback fraud" }),
      `${page}?notice=disabled`,
    );
    const refused = await me();
    await refused.body?.cancel();
    assert.equal(refused.status, 403);
    await browser.submit(`${page}/enable`, { reason: "Cleared by support" });
    assert.equal(
      (await sql`select disabled_at from users where id = ${user.id}`)[0].disabled_at,
      null,
    );
    const [disabled] = await auditRows(app, "user.disable");
    assert.deepEqual([disabled.before, disabled.after], [{ disabled: false }, { disabled: true }]);
    assert.equal((await auditRows(app, "user.enable")).length, 1);
    // An admin cannot lock themselves out.
    assert.match(
      await browser.submit(`/admin/users/${admin.id}/disable`, { reason: "oops!" }),
      /problem=self/,
    );

    const trail = await browser.html(`/admin/audit?target_type=user&target_id=${user.id}`);
    for (
      const action of ["user.adjust_balance", "user.change_tier", "user.disable", "user.enable"]
    ) {
      assert.ok(trail.includes(`data-action="${action}"`), action);
    }
    assert.ok(trail.includes(reason));
    const other = await browser.html(`/admin/audit?action=user.enable`);
    assert.ok(!other.includes('data-action="user.adjust_balance"'));
  } finally {
    await app.close();
  }
});

Deno.test("payments: filters, flagged tab, raw Paynow messages, and poll now", async () => {
  const KEY = "3e9fed89-60e1-4ce5-ab6e-6b1eb2d4f977";
  const paynow = await startFakePaynow({
    integrations: { "1201": KEY },
    timeScale: 0.01,
    behaviour: { loseResultPosts: true },
  });
  const { app, sql, user, browser } = await setup({
    env: paynowEnv(paynow.url, KEY),
  });
  try {
    const [pkg] = await sql`select id from token_packages order by position limit 1`;
    const insert = (
      ref: string,
      status: string,
      extra: { flag?: string; currency?: string; at?: string } = {},
    ) =>
      sql`insert into payments (user_id, package_id, tokens, currency, amount, method, reference,
                                status, flag, expires_at, created_at)
          values (${user.id}, ${pkg.id}, 5000, ${extra.currency ?? "USD"}, 1.00, 'ecocash', ${ref},
                  ${status}, ${extra.flag ?? null}, now() + interval '1 hour',
                  ${extra.at ?? new Date().toISOString()})`;
    await insert("REF-PAID", "paid");
    await insert("REF-FAILED", "failed");
    await insert("REF-FLAGGED", "paid", { flag: "amount_mismatch" });
    await insert("REF-ZIG", "paid", { currency: "ZiG" });
    await insert("REF-OLD", "paid", { at: "2025-06-01T10:00:00Z" });

    const paid = await browser.html("/admin/payments?status=paid");
    assert.ok(
      paid.includes("REF-PAID") && paid.includes("REF-FLAGGED") && paid.includes("REF-ZIG"),
    );
    assert.ok(!paid.includes("REF-FAILED"));
    const usd = await browser.html("/admin/payments?status=paid&currency=USD");
    assert.ok(!usd.includes("REF-ZIG"));
    const june = await browser.html("/admin/payments?from=2025-06-01&to=2025-06-01");
    assert.ok(june.includes("REF-OLD") && !june.includes("REF-PAID"));
    const flagged = await browser.html("/admin/payments?flagged=1");
    assert.ok(flagged.includes("REF-FLAGGED") && !flagged.includes("REF-PAID<"));
    assert.ok(!flagged.includes("REF-FAILED"));

    // A real payment through the fake Paynow; its result POST is lost, so only a poll settles it.
    const login = await app.fetch("/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "tendai@example.com", password: "long enough password" }),
    });
    const { accessToken } = await login.json();
    const started = await app.fetch("/api/v1/payments", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({ packageId: pkg.id, method: "ecocash", phone: "0771111111" }),
    });
    assert.equal(started.status, 201, await started.clone().text());
    const payment = await started.json();
    assert.equal(payment.status, "sent");
    await new Promise((r) => setTimeout(r, 200)); // the fake's payer pays after 50 ms

    const page = `/admin/payments/${payment.id}`;
    const before = await browser.html(page);
    assert.match(before, /Poll now/);
    assert.match(before, /status=Ok/i, "the raw initiation answer is shown");
    assert.equal(await browser.submit(`${page}/poll`), `${page}?notice=polled`);
    const after = await browser.html(page);
    assert.match(after, /data-testid="payment-status">paid/);
    assert.doesNotMatch(after, /Poll now/);
    assert.match(after, /status=Paid/i);
    // The poll that settled it is counted, and a final payment has no next poll.
    const polls = after.match(/data-testid="payment-polls">([\s\S]*?)<\/dd>/)![1];
    assert.match(polls, /^1, last <time/);
    assert.match(polls, /no more \(final\)/);
    assert.match(await browser.submit(`${page}/poll`), /problem=final/);
    const [polled] = await auditRows(app, "payment.poll");
    assert.deepEqual([polled.before, polled.after], [{ status: "sent" }, { status: "paid" }]);
    // The audit log names the payment by its reference and shows the change as a diff.
    const audit = await browser.html("/admin/audit?action=payment.poll");
    assert.ok(audit.includes(`payment ${payment.reference}</a>`), "named by reference");
    assert.match(audit, /<code>status<\/code> <del>[^<]*sent[^<]*<\/del> →\s*<ins>[^<]*paid/);
    assert.equal((await getBalance(sql, user.id)).balance, 5000);
  } finally {
    await app.close();
    await paynow.close();
  }
});

Deno.test("conversations are read-only with phone numbers and e-mail addresses masked", async () => {
  const { app, sql, user, browser } = await setup();
  try {
    const [conv] = await sql`insert into conversations (user_id, mode, channel, title)
                             values (${user.id}, 'chat', 'whatsapp', 'Help with my account')
                             returning id`;
    await sql`insert into messages (conversation_id, user_id, role, content, channel, mode)
              values (${conv.id}, ${user.id}, 'user',
                      'Call me on +263 77 123 4567 or mail tendai@example.com', 'whatsapp', 'chat'),
                     (${conv.id}, ${user.id}, 'assistant', 'Sure, noted.', 'whatsapp', 'chat')`;
    const list = await browser.html("/admin/conversations?q=771234");
    assert.ok(list.includes(`/admin/conversations/${conv.id}`));
    assert.ok(list.includes("+26377*****67"));
    assert.ok(!list.includes("+263771234567"));
    assert.ok((await browser.html("/admin/conversations?q=account")).includes(conv.id));
    assert.ok(!(await browser.html("/admin/conversations?q=nothing-like-it")).includes(conv.id));

    const detail = await browser.html(`/admin/conversations/${conv.id}`);
    assert.ok(detail.includes("Sure, noted."));
    assert.ok(!detail.includes("771234567") && !detail.includes("77 123 4567"), "phone masked");
    assert.ok(!detail.includes("tendai@example.com"), "e-mail masked");
    // Read-only: no form in the page (the header's log-out form aside).
    const content = detail.slice(detail.indexOf("<main>"));
    assert.ok(!/<form[^>]*method="post"/.test(content), "read-only");
  } finally {
    await app.close();
  }
});

Deno.test("jobs: the backlog, and dead letters retried or discarded, audited", async () => {
  const { app, sql, browser } = await setup({ extraHandlers: testHandlers });
  try {
    await createTestTables(app.server.db);
    const [a] = await sql`insert into job_failures (job_id, job, payload, attempts, last_error)
                          values ('j-1', 'test.side_effect', ${sql.json({ key: "revived" })}, 5,
                                  'upstream timed out') returning id`;
    const [b] = await sql`insert into job_failures (job_id, job, payload, attempts, last_error)
                          values ('j-2', 'test.side_effect', ${sql.json({ key: "dropped" })}, 5,
                                  'bad payload') returning id`;
    const html = await browser.html("/admin/jobs");
    // The live instances: this one, with its version.
    assert.match(html, new RegExp(`<code>${app.server.instances.id}</code>`));
    assert.match(html, /data-testid="instance"[\s\S]*<td>0\.1\.0<\/td>/);
    assert.match(html, /data-testid="dead-letters">2</);
    assert.ok(html.includes("upstream timed out") && html.includes("bad payload"));

    assert.equal(
      await browser.submit(`/admin/jobs/dead/${a.id}/retry`),
      "/admin/jobs?notice=retried",
    );
    assert.equal(
      await browser.submit(`/admin/jobs/dead/${b.id}/discard`),
      "/admin/jobs?notice=discarded",
    );
    assert.match(await browser.submit(`/admin/jobs/dead/${b.id}/discard`), /problem=gone/);
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      const rows = await sql`select key from test_side_effects`;
      if (rows.length > 0) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.deepEqual((await sql`select key from test_side_effects`).map((r) => r.key), ["revived"]);
    const statuses = await sql`select job_id, status from job_failures order by job_id`;
    assert.deepEqual(statuses.map((r) => r.status), ["retried", "discarded"]);
    assert.equal((await auditRows(app, "job.retry")).length, 1);
    assert.equal((await auditRows(app, "job.discard")).length, 1);
    assert.match(await browser.html("/admin/jobs"), /data-testid="dead-letters">0</);
  } finally {
    await app.close();
  }
});

Deno.test("settings: packages, tiers and the signup grant are edited with before/after in the audit log", async () => {
  const { app, sql, browser } = await setup();
  try {
    const settings = await browser.html("/admin/settings");
    assert.match(settings, /AI configurations/);
    assert.match(settings, /write-only/);
    const [starter] = await sql`select * from token_packages where name = 'Starter'`;
    const fields = {
      name: "Starter",
      tokens: "6000",
      price_usd: "1.20",
      price_zig: "",
      position: "0",
      active: "on",
    };
    assert.equal(
      await browser.submit(`/admin/settings/packages/${starter.id}`, fields),
      "/admin/settings?notice=saved",
    );
    const [after] = await sql`select * from token_packages where id = ${starter.id}`;
    assert.equal(Number(after.tokens), 6000);
    assert.equal(String(after.price_usd), "1.20");
    assert.equal(after.price_zig, null);
    const [pkgAudit] = await auditRows(app, "package.update");
    assert.equal(pkgAudit.before.tokens, 5000);
    assert.equal(pkgAudit.before.price_zig, "30.00");
    assert.equal(pkgAudit.after.tokens, 6000);
    assert.equal(
      await browser.submit(`/admin/settings/packages/${starter.id}`, fields),
      "/admin/settings?notice=unchanged",
    );
    assert.match(
      await browser.submit(`/admin/settings/packages/${starter.id}`, {
        ...fields,
        price_usd: "",
      }),
      /problem=invalid/,
      "a package needs a price",
    );
    await browser.submit("/admin/settings/packages", { ...fields, name: "Mega", tokens: "500000" });
    assert.equal(
      (await sql`select count(*)::int as n from token_packages where name = 'Mega'`)[0].n,
      1,
    );

    await browser.submit("/admin/settings/tiers/free", {
      requests_per_minute: "25",
      daily_token_cap: "30000",
    });
    const [free] = await sql`select * from tiers where name = 'free'`;
    assert.deepEqual([free.requests_per_minute, Number(free.daily_token_cap)], [25, 30000]);

    await browser.submit("/admin/settings/values", {
      signup_grant_tokens: "1500",
      payment_expiry_minutes: "30",
    });
    assert.equal(await getSetting(sql, "signup_grant_tokens"), 1500);
    const settingAudit = await auditRows(app, "setting.update");
    assert.equal(settingAudit.length, 1, "only the value that changed");
    assert.deepEqual([settingAudit[0].before, settingAudit[0].after], [{ value: 0 }, {
      value: 1500,
    }]);
    assert.equal((await auditRows(app, "tier.update")).length, 1);
    assert.equal((await auditRows(app, "package.create")).length, 1);
  } finally {
    await app.close();
  }
});

Deno.test("the metrics endpoint serves each range with its change against the previous period", async () => {
  const { app, sql, user, browser } = await setup();
  try {
    const tz = app.server.config.tzMetrics;
    const yesterday = addDays(dayIn(new Date(), tz), -1);
    // Two sign-ups 3 days ago and one 40 days ago; tokens sold yesterday.
    await sql`update users set created_at = now() - interval '3 days' where id = ${user.id}`;
    const other = await createUser(sql, { email: "x@example.com", password: "long enough pass" });
    await sql`update users set created_at = now() - interval '3 days' where id = ${other.id}`;
    const old = await createUser(sql, { email: "y@example.com", password: "long enough pass" });
    await sql`update users set created_at = now() - interval '40 days' where id = ${old.id}`;
    await sql`update users set created_at = now() - interval '400 days'
              where email = 'boss@example.com'`;
    await post(sql, {
      userId: user.id,
      kind: "purchase_credit",
      delta: 700,
      idempotencyKey: "bought",
      description: "bought",
    });
    await sql`update ledger_entries set created_at = now() - interval '1 day'`;
    for (let i = 1; i <= 45; i++) await recordDay(sql, addDays(yesterday, -i + 1), tz);

    const res = await browser.get("/admin/api/metrics?range=30");
    assert.equal(res.status, 200);
    const data = await res.json();
    assert.equal(data.range, 30);
    assert.equal(data.to, yesterday);
    assert.equal(data.days.length, 30);
    const kpi = (key: string) => data.kpis.find((k: { key: string }) => k.key === key);
    assert.equal(kpi("usersNew").value, 2);
    assert.equal(kpi("usersNew").previous, 1);
    assert.equal(kpi("usersNew").change, 1);
    assert.equal(kpi("tokensSold").value, 700);
    assert.equal(kpi("tokensSold").change, null, "nothing to compare with");
    assert.equal(data.series.tokensSold[29], 700);
    assert.equal(data.series.usersNew.reduce((s: number, n: number) => s + n, 0), 2);

    const ninety = await (await browser.get("/admin/api/metrics?range=90")).json();
    assert.equal(ninety.days.length, 90);
    assert.equal(ninety.kpis.find((k: { key: string }) => k.key === "usersNew").value, 3);
    const bad = await browser.get("/admin/api/metrics?range=7");
    await bad.body?.cancel();
    assert.equal(bad.status, 400);
  } finally {
    await app.close();
  }
});

Deno.test("the live feed streams payments changing status and jobs dying, as they happen", async () => {
  const { app, sql, user, browser } = await setup();
  const abort = new AbortController();
  try {
    await paidPayment(sql, user.id, "EARLY");
    const [pkg] = await sql`select id from token_packages order by position limit 1`;

    const res = await app.fetch("/admin/api/feed", {
      headers: { cookie: browser.cookie },
      signal: abort.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    const next = async (ms = 8000): Promise<{ event: string; data: string }> => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.startsWith(":")) continue;
          const field = (name: string) =>
            block.split("\n").find((l) => l.startsWith(name + ":"))?.slice(name.length + 1)
              .trim() ?? "";
          return { event: field("event"), data: field("data") };
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("the stream ended");
        buffer += value;
      }
      throw new Error("no event in time");
    };
    assert.equal((await next()).event, "ready");
    const recent = await next();
    assert.equal(recent.event, "feed");
    assert.equal(JSON.parse(recent.data).title, "Payment paid", "what happened before is shown");

    const [payment] = await sql`
      insert into payments (user_id, package_id, tokens, currency, amount, method, reference,
                            status, expires_at)
      values (${user.id}, ${pkg.id}, 5000, 'ZiG', 30.00, 'onemoney', 'LIVE-1', 'failed',
              now() + interval '1 hour') returning id`;
    // A poll that changed nothing is not news; the transition is.
    await sql`insert into payment_events (payment_id, source, status_from, note)
              values (${payment.id}, 'poll', 'sent', 'no change')`;
    await sql`insert into payment_events (payment_id, source, status_from, status_to)
              values (${payment.id}, 'poll', 'sent', 'failed')`;
    const failed = JSON.parse((await next()).data);
    assert.equal(failed.title, "Payment failed");
    assert.equal(failed.level, "warn");
    assert.match(failed.detail, /ZiG 30\.00 via onemoney · LIVE-1/);
    assert.equal(failed.href, `/admin/payments/${payment.id}`);

    await sql`insert into job_failures (job_id, job, payload, attempts, last_error)
              values ('live-job', 'email.send', '{}', 5, 'SMTP refused')`;
    const dead = JSON.parse((await next()).data);
    assert.equal(dead.title, "Job dead-lettered: email.send");
    assert.equal(dead.level, "error");
    assert.match(dead.detail, /SMTP refused/);
  } finally {
    abort.abort();
    await app.close();
  }
});

Deno.test("settings: an AI configuration's key is write-only, encrypted, audited without it, and used at once", async () => {
  const newKey = "sk-admin-typed-7Qx2Lm9";
  const fake = await startFakeOpenAI({ apiKey: newKey });
  // The environment's key is not the one the upstream accepts: the admin replaces it.
  const { app, sql, user, browser } = await setup({
    env: { OPENAI_API_KEY: "sk-stale-environment-key", OPENAI_BASE_URL: fake.baseUrl },
  });
  try {
    const services = app.server.chat;
    await post(sql, {
      userId: user.id,
      kind: "purchase_credit",
      delta: 50_000,
      idempotencyKey: "admin-ai-test",
      description: "test credit",
    });
    const ask = () =>
      answerOnce(services, { userId: user.id, mode: "essay", channel: "web", text: "Hello" });
    const refused = await ask();
    assert.equal(refused.ok, false, "the stale key is refused upstream");

    const [row] = await sql`select id, model from ai_configs where name = 'default'`;
    const fields = {
      model: row.model,
      base_url: fake.baseUrl,
      api_key: newKey,
      temperature: "0.5",
      max_output_tokens: "900",
      price_input_per_1k: "2.5",
      price_output_per_1k: "10",
      active: "on",
    };
    assert.equal(
      await browser.submit(`/admin/settings/ai/${row.id}`, fields),
      "/admin/settings?notice=saved",
    );
    const dump = JSON.stringify(await sql`select * from ai_configs`);
    assert.ok(!dump.includes(newKey), "the key is stored encrypted");
    const page = await browser.html("/admin/settings");
    assert.ok(!page.includes(newKey) && !page.includes("sk-stale"), "the page never shows a key");
    assert.match(page, /API key \(set\)/);
    const [audit] = await auditRows(app, "ai_config.update");
    assert.ok(!JSON.stringify(audit).includes(newKey));
    assert.equal(audit.after.key_replaced, true);
    assert.deepEqual([audit.before.temperature, audit.after.temperature], [0.7, 0.5]);

    // The chat picks the change up within a second.
    let answer = await ask();
    for (let i = 0; i < 30 && !answer.ok; i++) {
      await new Promise((r) => setTimeout(r, 100));
      answer = await ask();
    }
    assert.ok(answer.ok, JSON.stringify(answer));
    const [priced] = await sql`select price_output_per_1k, max_output_tokens from ai_configs
                               where id = ${row.id}`;
    assert.deepEqual([Number(priced.price_output_per_1k), priced.max_output_tokens], [10, 900]);

    // Blank keeps the key (saving the same values again changes nothing); the box removes it.
    assert.equal(
      await browser.submit(`/admin/settings/ai/${row.id}`, { ...fields, api_key: "" }),
      "/admin/settings?notice=unchanged",
    );
    assert.match(
      await browser.submit(`/admin/settings/ai/${row.id}`, { ...fields, base_url: "ftp://x" }),
      /problem=invalid/,
    );
    await browser.submit(`/admin/settings/ai/${row.id}`, {
      ...fields,
      api_key: "",
      remove_key: "on",
    });
    const [cleared] = await sql`select api_key_encrypted from ai_configs where id = ${row.id}`;
    assert.equal(cleared.api_key_encrypted, null);
  } finally {
    await app.close();
    await fake.close();
  }
});

Deno.test("a key stored by an admin survives a restart without one, but never follows a new upstream", async () => {
  const { app, sql } = await setup();
  try {
    const config = app.server.config;
    const keyless = {
      ...config,
      ai: { ...config.ai, provider: "openai" as const },
    };
    keyless.ai.openai = {
      ...config.ai.openai,
      apiKey: undefined,
      baseUrl: "http://127.0.0.1:9/v1",
    };
    await seedDefaultConfig(sql, keyless);
    const [row] = await sql`select id from ai_configs where name = 'default'`;
    await setApiKey(sql, config.encryptionKey, row.id, "sk-stored-by-admin");
    const stored = async () =>
      (await sql`select api_key_encrypted from ai_configs where id = ${row.id}`)[0]
        .api_key_encrypted;
    await seedDefaultConfig(sql, keyless); // a restart with the same environment
    assert.notEqual(await stored(), null);
    keyless.ai.openai = { ...keyless.ai.openai, baseUrl: "http://127.0.0.1:10/v1" };
    await seedDefaultConfig(sql, keyless); // the environment now names another upstream
    assert.equal(await stored(), null);
  } finally {
    await app.close();
  }
});
