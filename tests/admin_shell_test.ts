/**
 * What every admin page shares and what the overview admits: the header's way to /admin and out
 * of it, times in the one format with the zone named, and charts that say there is no data yet
 * (and include today so far) rather than drawing empty axes. Runs on either database back end.
 */
import assert from "node:assert/strict";
import { staffUser, startTestApp, type TestApp } from "./harness.ts";
import { createSession } from "../lib/accounts/credentials.ts";
import { createUser } from "../lib/accounts/users.ts";
import { csrfTokenFor } from "../routes/_auth.ts";
import { dayIn } from "../lib/metrics/days.ts";

async function page(app: TestApp, userId: string, admin: boolean, path: string) {
  const session = await createSession(app.server.db.sql, userId, { admin });
  const res = await app.fetch(path, { headers: { cookie: `hk_session=${session.token}` } });
  const html = await res.text();
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  return { html, csrf: await csrfTokenFor(app.server.config.appSecret, session.token) };
}

async function json(app: TestApp, userId: string, path: string) {
  const session = await createSession(app.server.db.sql, userId, { admin: true });
  const res = await app.fetch(path, { headers: { cookie: `hk_session=${session.token}` } });
  assert.equal(res.status, 200, path);
  return await res.json();
}

const headerOf = (html: string) => html.match(/<header class="site">[\s\S]*?<\/header>/)![0];

Deno.test("the site header links /admin for an admin's session, and admin pages can log out", async () => {
  await using app = await startTestApp();
  const sql = app.server.db.sql;
  const admin = await staffUser(app, "boss@example.com", "admin");
  const officer = await staffUser(app, "officer@example.com", "officer");
  const user = await createUser(sql, { email: "u@example.com", password: "long enough pass" });
  for (const path of ["/", "/account", "/chat"]) {
    const { html } = await page(app, admin.id, true, path);
    assert.match(headerOf(html), /<a href="\/admin">Admin<\/a>/, path);
    // An admin's ordinary session does not open /admin, so it is not offered.
    const ordinary = await page(app, admin.id, false, path);
    assert.doesNotMatch(headerOf(ordinary.html), /href="\/admin/, path);
    const person = await page(app, user.id, false, path);
    assert.doesNotMatch(headerOf(person.html), /href="\/admin/, path);
  }
  const { html: officerHome } = await page(app, officer.id, true, "/account");
  assert.match(headerOf(officerHome), /<a href="\/admin\/grievances">Admin<\/a>/);

  for (const path of ["/admin", "/admin/users", "/admin/audit"]) {
    const { html, csrf } = await page(app, admin.id, true, path);
    const header = headerOf(html);
    assert.match(header, /<form method="post" action="\/logout"/, path);
    assert.ok(header.includes(`value="${csrf}"`), `${path}: the log-out form's token`);
    assert.match(html, /Times are in [^<]+\(GMT[+-]\d\d:\d\d\)/, `${path}: the zone is named`);
  }
});

Deno.test("a fresh install's overview says there is no data yet; today so far is charted", async () => {
  await using app = await startTestApp();
  const sql = app.server.db.sql;
  const admin = await staffUser(app, "boss@example.com", "admin");
  await sql`update users set created_at = now() - interval '400 days'`;
  const empty = await json(app, admin.id, "/admin/api/metrics?range=30");
  assert.equal(empty.hasData, false);
  assert.equal(empty.today.day, dayIn(new Date(), app.server.config.tzMetrics));
  const { html } = await page(app, admin.id, true, "/admin");
  assert.match(html, /data-testid="no-data"/);

  await createUser(sql, { email: "new@example.com", password: "long enough pass" });
  const some = await json(app, admin.id, "/admin/api/metrics?range=30");
  assert.equal(some.hasData, true);
  assert.equal(some.today.values.usersNew, 1);
  assert.equal(some.days.length, 30, "the complete days, today apart");
  const { html: after } = await page(app, admin.id, true, "/admin");
  assert.doesNotMatch(after, /data-testid="no-data"/);
});

Deno.test("the sandbox mailbox lists received e-mail newest first, and exists only while e-mail is sandboxed", async () => {
  const app = await startTestApp();
  try {
    const admin = await staffUser(app, "boss@example.com", "admin");
    const mailer = app.server.upstreams.mailer;
    await mailer.send({ to: "first@example.com", subject: "First", text: "one" });
    await mailer.send({
      to: "second@example.com",
      subject: "Second <b>",
      text: "Open http://localhost/reset?token=abc&x=1 now.",
    });
    const { html } = await page(app, admin.id, true, "/admin/sandbox/mail");
    const second = html.indexOf("Second &lt;b>");
    assert.ok(second > 0 && second < html.indexOf(">First<"), "newest first, escaped");
    assert.ok(html.includes('<a href="http://localhost/reset?token=abc&amp;x=1">'), "a link");
    assert.match(html, /href="\/admin\/sandbox\/mail" aria-current="page"/, "in the navigation");
  } finally {
    await app.close();
  }

  await using off = await startTestApp({ env: { SANDBOX: "0" } });
  const admin = await staffUser(off, "boss@example.com", "admin");
  const session = await createSession(off.server.db.sql, admin.id, { admin: true });
  const res = await off.fetch("/admin/sandbox/mail", {
    headers: { cookie: `hk_session=${session.token}` },
  });
  await res.body?.cancel();
  assert.equal(res.status, 404);
  const { html } = await page(off, admin.id, true, "/admin");
  assert.ok(!html.includes("/admin/sandbox/mail"), "not in the navigation");
});
