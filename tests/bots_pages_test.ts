/**
 * The bot owners' pages: a bot created by its form, its page (embed snippet, the embedder named
 * as what it is, the live sources list), a disguised upload refused on the page with a 415 and
 * the accepted types, and another user's bot answered 404.
 */
import assert from "node:assert/strict";
import { startTestApp } from "./harness.ts";
import { signedIn } from "./fixtures/forms.ts";
import { signup } from "./fixtures/bots.ts";
import { EXECUTABLE_BYTES } from "./fixtures/documents.ts";

Deno.test("bot pages: create by form, upload refused with its reason, others' bots 404", async () => {
  await using app = await startTestApp();
  const owner = await signup(app);
  const other = await signup(app);
  const me = await signedIn(app, owner.id);
  assert.equal((await app.fetch("/bots", { redirect: "manual" })).status, 303);
  const created = await app.fetch("/bots", {
    method: "POST",
    headers: { cookie: me.cookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: me.csrf, name: "Helpdesk" }),
    redirect: "manual",
  });
  assert.equal(created.status, 303);
  const location = created.headers.get("location")!;
  assert.match(location, /^\/bots\/[0-9a-f-]{36}$/);
  const page = await app.fetch(location, { headers: { cookie: me.cookie } });
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /embed\.js\?bot=hkb_/);
  assert.match(html, /local hashing vectorizer \(sandbox\)/);
  assert.match(html, /data-island="BotSources"/);
  assert.match(html, /data-island="BotAnalytics"/);

  const form = new FormData();
  form.set("_csrf", me.csrf);
  form.set("file", new File([EXECUTABLE_BYTES as BlobPart], "guide.pdf"));
  const refused = await app.fetch(`${location}/sources/file`, {
    method: "POST",
    headers: { cookie: me.cookie },
    body: form,
  });
  assert.equal(refused.status, 415);
  assert.match(await refused.text(), /x-elf.*PDF \(\.pdf, with text\)/s);

  const stranger = await signedIn(app, other.id);
  assert.equal((await app.fetch(location, { headers: { cookie: stranger.cookie } })).status, 404);
  const edit = await app.fetch(location, {
    method: "POST",
    headers: { cookie: stranger.cookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: stranger.csrf, name: "Mine now", temperature: "0.3" }),
    redirect: "manual",
  });
  assert.equal(edit.status, 404);
});
