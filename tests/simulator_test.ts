/**
 * The WhatsApp simulator's endpoints (/admin/simulator, /admin/api/simulator/*) on the real app
 * with the sandbox's WhatsApp, AI and Paynow: a text and taps go through the signed webhook
 * intake, the bot's answers come back in the thread, and buying tokens settles with Paynow's
 * test number and raises the number's wallet. Only admins get in; without the sandboxed WhatsApp
 * it is a 404 saying why; hostile input is a 4xx naming the problem.
 */
import assert from "node:assert/strict";
import { type TestApp, waitFor } from "./harness.ts";
import { ADMIN, appWithAdmin } from "./browser_users.ts";
import { type FormVisit, signedIn } from "./fixtures/forms.ts";
import { createUser } from "../lib/accounts/users.ts";
import { startFakeGraphApi } from "../lib/sandbox/whatsapp_graph.ts";
import type { Thread, ThreadItem } from "../lib/sandbox/whatsapp_simulator.ts";
import { TEST_PHONE_NUMBER_ID } from "../lib/sandbox/whatsapp_sign.ts";

async function adminOf(app: TestApp): Promise<FormVisit> {
  const [admin] = await app.server.db.sql`select id from users where email = ${ADMIN.email}`;
  return signedIn(app, admin.id, true);
}

function send(app: TestApp, who: FormVisit, body: unknown, headers: Record<string, string> = {}) {
  return app.fetch("/admin/api/simulator/send", {
    method: "POST",
    headers: {
      cookie: who.cookie,
      "x-csrf-token": who.csrf,
      "content-type": "application/json",
      ...headers,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function thread(app: TestApp, who: FormVisit, phone: string): Promise<Thread> {
  const res = await app.fetch(`/admin/api/simulator/thread?phone=${encodeURIComponent(phone)}`, {
    headers: { cookie: who.cookie },
  });
  assert.equal(res.status, 200, await res.clone().text());
  return await res.json();
}

/** Waits for the bot's `n`-th message (1-based) to `phone` and returns it. */
function botMessage(app: TestApp, who: FormVisit, phone: string, n: number, match?: RegExp) {
  return waitFor(
    `bot message ${n}${match ? ` matching ${match}` : ""}`,
    async () => {
      const bot = (await thread(app, who, phone)).items.filter((i) => i.from === "bot");
      const found = bot[n - 1];
      return found && (!match || match.test(found.text)) ? found : undefined;
    },
    20_000,
    100,
  );
}

async function sent(res: Response): Promise<ThreadItem> {
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.message;
}

Deno.test("as a test number: hi → the welcome menu; taps are list and button replies; buying tokens settles", async () => {
  await using app = await appWithAdmin();
  const admin = await adminOf(app);
  const sql = app.server.db.sql;
  const phone = "+263771111111"; // Paynow's "paid after 5 s" test number, as its WhatsApp number

  const page = await app.fetch("/admin/simulator", { headers: { cookie: admin.cookie } });
  const html = await page.text();
  assert.equal(page.status, 200);
  assert.match(html, /data-island="WhatsAppSimulator"/);
  assert.match(html, /href="\/admin\/simulator" aria-current="page">WhatsApp simulator/);
  assert.match(html, /<code>0771111111<\/code>: paid after 5 s/);

  const hi = await sent(await send(app, admin, { phone, type: "text", text: "hi" }));
  assert.equal(hi.from, "user");
  const welcome = await botMessage(app, admin, phone, 1);
  assert.equal(welcome.kind, "list");
  assert.match(welcome.text, /Welcome to Hurukuro/);
  const shown = await thread(app, admin, phone);
  assert.deepEqual(shown.items.map((i) => i.from), ["user", "bot"], "oldest first");
  assert.equal(shown.balance, 0, "the number's account exists, with no signup grant");
  // Through the webhook intake, signature checked: logged as a signed Meta delivery, stored.
  const [log] = await sql`select status, headers from whatsapp_webhook_log order by id limit 1`;
  assert.equal(log.status, 200);
  assert.equal(log.headers["x-hub-signature-256"], "[removed]");

  // Menu → Buy tokens (a list row), a package (a list row), EcoCash (a button).
  const buyRow = welcome.list!.sections[0].rows.find((r) => r.id === "menu:buy")!;
  await sent(
    await send(app, admin, { phone, type: "reply", replyTo: welcome.id, id: buyRow.id }),
  );
  const packages = await botMessage(app, admin, phone, 2);
  assert.equal(packages.kind, "list");
  const pkg = packages.list!.sections[0].rows[0];
  await sent(await send(app, admin, { phone, type: "reply", replyTo: packages.id, id: pkg.id }));
  const methods = await botMessage(app, admin, phone, 3);
  assert.equal(methods.kind, "buttons");
  const ecocash = methods.buttons!.find((b) => b.title === "EcoCash")!;
  const tap = await sent(
    await send(app, admin, { phone, type: "reply", replyTo: methods.id, id: ecocash.id }),
  );
  assert.equal(tap.text, "EcoCash");
  const inbound = await sql`select type, message from whatsapp_inbound where phone = ${phone}
                            order by seq`;
  assert.deepEqual(inbound.map((r) => r.type), [
    "text",
    "list_reply",
    "list_reply",
    "button_reply",
  ]);
  assert.equal(inbound[3].message.buttonId, ecocash.id);
  assert.equal(inbound[3].message.context.id, methods.id);

  const which = await botMessage(app, admin, phone, 4, /0771111111/);
  const thisNumber = which.buttons!.find((b) => b.title === "This number")!;
  await sent(
    await send(app, admin, { phone, type: "reply", replyTo: which.id, id: thisNumber.id }),
  );
  await botMessage(app, admin, phone, 5, /Payment started/);
  const notice = await botMessage(app, admin, phone, 6, /Payment received/);
  assert.match(notice.text, /tokens added/);
  const after = await waitFor("the balance to rise", async () => {
    const t = await thread(app, admin, phone);
    return t.balance && t.balance > 0 ? t.balance : undefined;
  });
  const [payment] = await sql`select p.status, p.tokens from payments p
                              join users u on u.id = p.user_id where u.phone = ${phone}`;
  assert.equal(payment.status, "paid");
  assert.equal(after, Number(payment.tokens));
});

Deno.test("only an admin's session: others get the area's 404 or a log-in; the CSRF token is required", async () => {
  await using app = await appWithAdmin();
  const anonymous = await app.fetch("/admin/simulator", { redirect: "manual" });
  await anonymous.body?.cancel();
  assert.equal(anonymous.status, 303);
  assert.equal(anonymous.headers.get("location"), "/login?next=%2Fadmin%2Fsimulator");
  const user = await createUser(app.server.db.sql, {
    email: "someone@example.com",
    password: "long enough password",
  });
  const person = await signedIn(app, user.id, false);
  for (const path of ["/admin/simulator", "/admin/api/simulator/thread?phone=%2B263771111111"]) {
    const res = await app.fetch(path, { headers: { cookie: person.cookie } });
    await res.body?.cancel();
    assert.equal(res.status, 404, path);
  }
  const post = await send(app, person, { phone: "+263771111111", type: "text", text: "hi" });
  await post.body?.cancel();
  assert.equal(post.status, 404);

  const admin = await adminOf(app);
  const forged = await send(app, { ...admin, csrf: "forged" }, {
    phone: "+263771111111",
    type: "text",
    text: "hi",
  });
  assert.equal(forged.status, 403);
  assert.match((await forged.json()).error.message, /expired or did not come from our site/);
  assert.equal((await thread(app, admin, "+263771111111")).items.length, 0, "nothing sent");
});

Deno.test("hostile input to the simulator's endpoints is a 4xx naming the problem, never a 5xx", async () => {
  await using app = await appWithAdmin();
  const admin = await adminOf(app);
  const phone = "+263770000001";
  const cases: [unknown, number, RegExp][] = [
    [{ phone, type: "text", text: "a\u0000b" }, 400, /text: .*cannot be stored/],
    [{ phone, type: "text", text: "\ud800" }, 400, /text: .*cannot be stored/],
    [{ phone, type: "text", text: "x".repeat(100 * 1024) }, 400, /text: at most 4096/],
    [{ phone, type: "text", text: 42 }, 400, /text: text must be a string/],
    [{ phone: 263771111111, type: "text", text: "hi" }, 400, /phone: phone must be a string/],
    [{ phone, type: "text", text: "hi", admin: true }, 400, /unknown field: admin/],
    [{ phone, type: "voice" }, 400, /type must be "text" or "reply"/],
    [[1, 2], 400, /type must be/],
    [
      { phone: "+26377<script>", type: "text", text: "hi" },
      400,
      /phone: a phone number has only digits/,
    ],
    [{ phone: "\ud800", type: "text", text: "hi" }, 400, /phone: .*cannot be stored/],
    [
      { phone, type: "reply", replyTo: "wamid.nope", id: "menu:buy" },
      400,
      /replyTo: the bot sent no message/,
    ],
    ["{not json", 400, /not valid JSON/],
  ];
  for (const [body, status, message] of cases) {
    const res = await send(app, admin, body);
    const answer = await res.json();
    assert.equal(res.status, status, JSON.stringify(body).slice(0, 80));
    assert.match(answer.error.message, message, JSON.stringify(body).slice(0, 80));
  }
  const form = await send(app, admin, "phone=x", {
    "content-type": "application/x-www-form-urlencoded",
  });
  assert.equal(form.status, 415);
  await form.body?.cancel();

  const badThread = await app.fetch("/admin/api/simulator/thread?phone=12", {
    headers: { cookie: admin.cookie },
  });
  assert.equal(badThread.status, 400);
  assert.equal((await badThread.json()).error.details.field, "phone");
  const badPage = await app.fetch("/admin/simulator?phone=%2B1", {
    headers: { cookie: admin.cookie },
  });
  assert.equal(badPage.status, 400);
  assert.match(await badPage.text(), /role="alert">E\.164 numbers have 7 to 15 digits/);
  assert.equal((await thread(app, admin, phone)).items.length, 0, "nothing was delivered");
});

Deno.test("with a real WhatsApp provider configured there is no simulator: a 404 saying why, no link", async () => {
  const graph = await startFakeGraphApi();
  const app = await appWithAdmin({
    WHATSAPP_TOKEN: graph.accessToken,
    WHATSAPP_PHONE_NUMBER_ID: TEST_PHONE_NUMBER_ID,
    WHATSAPP_APP_SECRET: "a-real-looking-app-secret",
    WHATSAPP_VERIFY_TOKEN: "verify",
    WHATSAPP_GRAPH_URL: graph.url,
  });
  try {
    const admin = await adminOf(app);
    const page = await app.fetch("/admin/simulator", { headers: { cookie: admin.cookie } });
    assert.equal(page.status, 404);
    assert.match(await page.text(), /only while WhatsApp is sandboxed/);
    const api = await send(app, admin, { phone: "+263771111111", type: "text", text: "hi" });
    assert.equal(api.status, 404);
    assert.match((await api.json()).error.message, /only while WhatsApp is sandboxed/);
    const overview = await (await app.fetch("/admin", { headers: { cookie: admin.cookie } }))
      .text();
    assert.doesNotMatch(overview, /WhatsApp simulator/);
    assert.equal(graph.messages.length, 0);
  } finally {
    await app.close();
    await graph.close();
  }
});
