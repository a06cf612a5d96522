/**
 * The WhatsApp channel end to end: signed webhooks from lib/sandbox/whatsapp_sign.ts into the
 * real app, replies read back from the fake Graph API (and the fake Twilio), the real chat
 * against the fake OpenAI server, payments against the fake Paynow. Runs on whichever database
 * back end the run uses.
 */
import assert from "node:assert/strict";
import twilio from "twilio";
import { prepareStorage, startTestApp } from "./harness.ts";
import {
  metaButtonReply,
  metaImage,
  metaListReply,
  metaLocation,
  metaStatus,
  metaWebhook,
  signedMetaWebhook,
  signMeta,
  twilioInbound,
} from "../lib/sandbox/whatsapp_sign.ts";
import { createSession } from "../lib/accounts/credentials.ts";
import { createUser, findOrCreatePhoneUser } from "../lib/accounts/users.ts";
import { META_TEXT_LIMIT } from "../lib/whatsapp/format.ts";
import { SANDBOX_WHATSAPP } from "../lib/sandbox/mod.ts";
import {
  APP_SECRET,
  bodyOf,
  count,
  deliver,
  say,
  setup,
  sleep,
  text,
  twilioApp,
  VERIFY_TOKEN,
} from "./whatsapp_app.ts";

Deno.test("a signed message is acknowledged before the AI answers; 5 re-deliveries give one reply", async () => {
  await using t = await setup({ grant: 100_000 });
  const phone = "+263771000001";
  const [welcome] = await say(t, phone, text(phone, "hi"));
  assert.equal(welcome.type, "interactive");
  assert.match(welcome.text, /Welcome to Hurukuro/);
  const [chat] = await say(t, phone, text(phone, "1"));
  assert.match(chat.text, /Chat/);

  // The fake AI takes 2 s to start answering.
  t.openai.script({ kind: "reply", text: "The answer is **42**.", firstTokenDelayMs: 2_000 });
  const question = text(phone, "What is six times seven?");
  const sent = performance.now();
  const res = await deliver(t.app, [question]);
  const ackMs = performance.now() - sent;
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.ok(ackMs < 1_000, `acknowledged after ${ackMs} ms`);
  const before = t.graph.messages.length;
  assert.equal(before, 2, "no reply before the AI answered");

  // The same delivery again, five times (Meta retries), while the answer is being written.
  for (let i = 0; i < 5; i++) {
    const again = await deliver(t.app, [question]);
    assert.equal(again.status, 200);
    await again.body?.cancel();
  }
  const [answer] = (await t.graph.waitForMessages(3, { to: phone, timeoutMs: 15_000 })).slice(2);
  assert.equal(answer.text, "The answer is *42*.");
  assert.ok(performance.now() - sent >= 2_000);
  // Read receipt with the typing indicator, for the question.
  const id = question.message.id as string;
  assert.ok(t.graph.reads.some((r) => r.messageId === id && r.typing));

  await sleep(1_500);
  assert.equal(t.graph.messages.length, 3, "still exactly one reply");
  assert.equal(await count(t.app, `whatsapp_inbound where provider_message_id = '${id}'`), 1);
  assert.equal(
    await count(
      t.app,
      `whatsapp_outbound o join whatsapp_inbound i on i.id = o.inbound_id
       where i.provider_message_id = '${id}'`,
    ),
    1,
  );
  const calls = t.openai.calls("/v1/chat/completions");
  assert.equal(calls.length, 1, "one AI call");
  // Sent whole, so asked for whole: no stream to read.
  assert.equal((calls[0].body as { stream?: boolean }).stream, false);
  assert.equal(await count(t.app, "whatsapp_webhook_log where status = 200"), 8);
});

Deno.test("missing or forged signatures get 401 and leave only the webhook log", async () => {
  await using t = await setup();
  const phone = "+263771000002";
  const body = JSON.stringify(metaWebhook({ messages: [text(phone, "hello")] }));
  const missing = await t.app.fetch("/api/whatsapp/webhook", {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
  });
  assert.equal(missing.status, 401);
  await missing.body?.cancel();
  const forged = await t.app.fetch("/api/whatsapp/webhook", {
    method: "POST",
    body,
    headers: {
      "content-type": "application/json",
      "x-hub-signature-256": signMeta("wrong", body),
    },
  });
  assert.equal(forged.status, 401);
  await forged.body?.cancel();
  // Signed, then altered by one character.
  const signed = signedMetaWebhook(APP_SECRET, body);
  const altered = await t.app.fetch("/api/whatsapp/webhook", {
    method: "POST",
    body: signed.body.replace("hello", "hellp"),
    headers: signed.headers,
  });
  assert.equal(altered.status, 401);
  await altered.body?.cancel();

  await sleep(300);
  for (const table of ["whatsapp_inbound", "whatsapp_sessions", "whatsapp_outbound"]) {
    assert.equal(await count(t.app, table), 0, table);
  }
  assert.equal(await count(t.app, `users where phone = '${phone}'`), 0);
  const logs = await t.app.server.db.sql`select * from whatsapp_webhook_log order by id`;
  assert.deepEqual(logs.map((l) => l.status), [401, 401, 401]);
  assert.deepEqual(logs.map((l) => l.error), [
    "no signature",
    "signature does not match",
    "signature does not match",
  ]);
  assert.equal(logs[1].headers["x-hub-signature-256"], "[removed]");
  // Phone numbers are masked in the stored body.
  assert.ok(!String(logs[0].body).includes("263771000002"), String(logs[0].body));
  assert.equal(t.graph.messages.length, 0);

  // The admin page lists them (refused filter), masked.
  const admin = await createUser(t.app.server.db.sql, {
    email: "ops@example.com",
    password: "long enough password",
    role: "admin",
  });
  const session = await createSession(t.app.server.db.sql, admin.id, { admin: true });
  const page = await t.app.fetch("/admin/webhooks?outcome=refused", {
    headers: { cookie: `hk_session=${session.token}` },
  });
  const html = await page.text();
  assert.equal(page.status, 200, html.slice(0, 300));
  assert.match(html, /signature does not match/);
  assert.match(html, /href="\/admin\/webhooks" aria-current="page"/);
  assert.ok(!html.includes("263771000002"));
});

Deno.test("verification handshake, malformed bodies and unknown shapes", async () => {
  await using t = await setup();
  const ok = await t.app.fetch(
    `/api/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`,
  );
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), "1158201444");
  const wrong = await t.app.fetch(
    "/api/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1",
  );
  assert.equal(wrong.status, 403);
  await wrong.body?.cancel();

  for (const body of ["{not json", '{"object":"page","entry":[{"changes":"x"}]}', "[]"]) {
    const res = await deliver(t.app, body);
    assert.equal(res.status, 200, body);
    await res.body?.cancel();
  }
  const logs = await t.app.server.db.sql`select status, error from whatsapp_webhook_log
                                         order by id`;
  assert.equal(logs.length, 3);
  assert.ok(logs.every((l) => l.status === 200 && l.error), JSON.stringify(logs));
  assert.equal(await count(t.app, "whatsapp_inbound"), 0);

  // Too large: refused before being read in full, logged.
  const huge = "x".repeat(4 * 1024 * 1024);
  const big = await t.app.fetch("/api/whatsapp/webhook", {
    method: "POST",
    body: huge,
    headers: { "x-hub-signature-256": signMeta(APP_SECRET, huge) },
  });
  assert.equal(big.status, 413);
  await big.body?.cancel();
});

Deno.test("a 9,000-character answer arrives as 3 ordered messages, none over the limit", async () => {
  await using t = await setup({ grant: 1_000_000 });
  const phone = "+263771000003";
  await say(t, phone, text(phone, "hi"));
  await say(t, phone, text(phone, "Essay"));
  // Long words: the fake model counts a token per word, and answers are capped in tokens.
  const paragraphs = Array.from(
    { length: 30 },
    (_, i) => `Paragraph${i + 1} ` + "Antidisestablishmentarianism ".repeat(10).trim(),
  );
  const long = paragraphs.join("\n\n").slice(0, 9_000);
  assert.equal(long.length, 9_000);
  // Essays are sent without memory: the 429 on the first send is retried after Retry-After.
  t.graph.failNext(1, "rate_limit", { retryAfterSeconds: 1 });
  t.openai.script({ kind: "reply", text: long });
  const parts = await say(t, phone, text(phone, "Write about work."), 3);
  assert.equal(parts.length, 3);
  for (const p of parts) assert.ok(p.text.length <= META_TEXT_LIMIT, `${p.text.length}`);
  assert.equal(parts.map(bodyOf).join(" ").replace(/\s+/g, " "), long.replace(/\s+/g, " "));
  assert.ok(parts[0].text.startsWith("Paragraph1 "));
  assert.ok(t.graph.rejections.some((r) => r.status === 429));
  await sleep(500);
  assert.equal(t.graph.messages.filter((m) => m.to === phone.slice(1)).length, 5);
});

Deno.test("buying tokens in the chat: fake Paynow pays, one credit, a notice, Chat resumes", async () => {
  await using t = await setup({ paynow: true });
  const phone = "+263771111111"; // the fake's "pays after 5 s" test number (scaled down)
  await say(t, phone, text(phone, "hi"));
  await say(t, phone, text(phone, "chat"));
  // Out of tokens (no signup grant here): the AI refuses politely and points to "buy".
  const [broke] = await say(t, phone, text(phone, "Tell me a joke"));
  assert.match(broke.text, /run out of tokens/);

  const [list] = await say(t, phone, text(phone, "buy"));
  assert.equal(list.type, "interactive");
  const rows = ((list.payload.interactive as Record<string, unknown>).action as {
    sections: { rows: { id: string; title: string }[] }[];
  }).sections[0].rows;
  assert.ok(rows.length >= 1 && rows.length <= 10);
  const [methods] = await say(
    t,
    phone,
    metaListReply({ from: phone, rowId: rows[0].id, title: rows[0].title }),
  );
  const buttons = ((methods.payload.interactive as Record<string, unknown>).action as {
    buttons: { reply: { id: string; title: string } }[];
  }).buttons;
  assert.deepEqual(buttons.map((b) => b.reply.title), ["EcoCash", "OneMoney", "InnBucks"]);
  const [which] = await say(
    t,
    phone,
    metaButtonReply({ from: phone, buttonId: "buy:method:ecocash", title: "EcoCash" }),
  );
  assert.match(which.text, /0771111111/);
  const [started, notice, resumed] = await say(
    t,
    phone,
    metaButtonReply({ from: phone, buttonId: "buy:phone:this", title: "This number" }),
    3,
  );
  assert.match(started.text, /Payment started/);
  assert.match(notice.text, /^Payment received: 5,000 tokens added\. Balance: 5,000$/);
  assert.match(resumed.text, /back in \*Chat\*/);

  const sql = t.app.server.db.sql;
  const [user] = await sql`select id from users where phone = ${phone}`;
  const credits = await sql`select count(*)::int as n from ledger_entries
                            where kind = 'purchase_credit' and user_id = ${user.id}`;
  assert.equal(credits[0].n, 1);
  const [payment] = await sql`select status, channel from payments where user_id = ${user.id}`;
  assert.deepEqual({ ...payment }, { status: "paid", channel: "whatsapp" });
  await sleep(1_000);
  assert.equal(
    t.graph.messages.filter((m) => /Payment received/.test(m.text)).length,
    1,
    "one notice",
  );
});

Deno.test("media is stored under DATA_DIR and answered politely; stored-but-lost work is reconciled", async () => {
  await using t = await setup();
  const phone = "+263771000004";
  await say(t, phone, text(phone, "hi"));
  const bytes = new TextEncoder().encode("not really a jpeg, but bytes");
  const mediaId = await t.graph.addMedia(bytes, "image/jpeg");
  const [reply] = await say(
    t,
    phone,
    metaImage({ from: phone, mediaId, mimeType: "image/jpeg" }),
  );
  assert.match(reply.text, /received your file/);
  const [media] = await t.app.server.db.sql`select * from whatsapp_media`;
  assert.ok(media.path.startsWith(t.app.dataDir));
  assert.deepEqual(await Deno.readFile(media.path), bytes);

  // A message stored while its job was lost (e.g. the KV file went away): the reconciler
  // answers it, once.
  const sql = t.app.server.db.sql;
  const lost = text(phone, "help");
  await sql`insert into whatsapp_inbound (provider, provider_message_id, phone, type, message,
                                          received_at)
            values ('meta', ${lost.message.id as string}, ${phone}, 'text',
                    ${
    sql.json({
      provider: "meta",
      id: lost.message.id as string,
      from: phone,
      to: "",
      timestamp: Date.now(),
      type: "text",
      text: "help",
    })
  }, now() - interval '5 minutes')`;
  const before = t.graph.messages.length;
  await t.app.server.queue.reconcile();
  const [help] = (await t.graph.waitForMessages(before + 1, { to: phone })).slice(before);
  assert.match(help.text, /Help/);
  await t.app.server.queue.reconcile();
  await sleep(500);
  assert.equal(t.graph.messages.length, before + 1);
});

Deno.test("Twilio: signed with the official helper is accepted, one character altered is refused", async () => {
  const { fake, app } = await twilioApp();
  try {
    const url = `${app.url}/api/whatsapp/twilio`;
    const params = twilioInbound({ from: "+263771000005", body: "hi", profileName: "Rudo" });
    const signature = twilio.getExpectedTwilioSignature(fake.authToken, url, params);
    const post = (fields: Record<string, string>, sig: string) =>
      app.fetch("/api/whatsapp/twilio", {
        method: "POST",
        body: new URLSearchParams(fields).toString(),
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          "x-twilio-signature": sig,
        },
      });
    const altered = await post({ ...params, Body: "hj" }, signature);
    assert.equal(altered.status, 401);
    await altered.body?.cancel();
    const res = await post(params, signature);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /xml/);
    assert.match(await res.text(), /<Response><\/Response>/);

    const [welcome] = await fake.waitForMessages(1, { timeoutMs: 15_000 });
    assert.match(welcome.body, /Welcome to Hurukuro/);
    assert.match(welcome.body, /1\. Chat/);
    assert.ok(welcome.body.length <= 1_600);
    const [row] = await app.server.db.sql`select count(*)::int as n from whatsapp_inbound`;
    assert.equal(row.n, 1);

    // A photo: fetched from MediaUrl0 with basic auth, kept, answered politely.
    const bytes = new TextEncoder().encode("jpeg bytes from twilio");
    const mediaUrl = fake.addMedia(bytes, "image/jpeg");
    const photo = twilioInbound({
      from: "+263771000005",
      media: [{ url: mediaUrl, contentType: "image/jpeg" }],
    });
    const sent = await post(photo, twilio.getExpectedTwilioSignature(fake.authToken, url, photo));
    assert.equal(sent.status, 200);
    await sent.body?.cancel();
    const [, reply] = await fake.waitForMessages(2, { timeoutMs: 15_000 });
    assert.match(reply.body, /received your file/);
    const [media] = await app.server.db.sql`select path from whatsapp_media`;
    assert.deepEqual(await Deno.readFile(media.path), bytes);
  } finally {
    await app.close();
    await fake.close();
  }
});

Deno.test("outside the 24-hour window only a template goes; anything else is dropped with its reason", async () => {
  await using t = await setup({ env: { WHATSAPP_CODE_TEMPLATE: "hurukuro_code" } });
  // A web user links a number that never wrote to us: the code can only go as the template.
  const signup = await t.app.fetch("/api/v1/auth/signup", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "linker@example.com", password: "long enough" }),
  });
  const { accessToken } = await signup.json();
  const res = await t.app.fetch("/api/v1/me/phone", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${accessToken}` },
    body: JSON.stringify({ phone: "0771000006" }),
  });
  assert.equal(res.status, 202, await res.clone().text());
  await res.body?.cancel();
  const [code] = await t.graph.waitForMessages(1, { to: "+263771000006" });
  assert.equal(code.type, "template");
  assert.equal(code.text, "hurukuro_code");
  const parameters = JSON.stringify(code.payload.template);
  assert.match(parameters, /"text":"\d{6}"/);

  // Our record says the window is open, but WhatsApp says it is closed: no template applies
  // to a menu, so it is dropped, with the reason kept.
  const phone = "+263771000007";
  t.graph.closeWindow(phone);
  const hi = await deliver(t.app, [text(phone, "hi")]);
  assert.equal(hi.status, 200);
  await hi.body?.cancel();
  const sql = t.app.server.db.sql;
  let row;
  for (let i = 0; i < 100 && !row; i++) {
    [row] = await sql`select status, error from whatsapp_outbound
                      where phone = ${phone} and status <> 'queued'`;
    if (!row) await sleep(100);
  }
  assert.equal(row?.status, "dropped");
  assert.match(String(row?.error), /24-hour window/);
  assert.equal(t.graph.messages.filter((m) => m.to === phone.slice(1)).length, 0);
});

Deno.test("a phone over its per-minute allowance gets one friendly reply, then silence", async () => {
  await using t = await setup({ env: { WHATSAPP_USER_RATE_LIMIT: "3" } });
  // The allowance counts per clock minute: all five messages must fall in the same one.
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 45_000) await sleep(60_000 - intoMinute + 100);
  const phone = "+263771000008";
  await say(t, phone, text(phone, "hi"));
  await say(t, phone, text(phone, "help"));
  await say(t, phone, text(phone, "menu"));
  const [slow] = await say(t, phone, text(phone, "help"));
  assert.match(slow.text, /receiving a lot of messages/);
  const res = await deliver(t.app, [text(phone, "help")]);
  await res.body?.cancel();
  await sleep(1_000);
  assert.equal(t.graph.messages.filter((m) => m.to === phone.slice(1)).length, 4);
  const [skipped] = await t.app.server.db.sql`
    select count(*)::int as n from whatsapp_inbound where status = 'skipped'`;
  assert.equal(skipped.n, 1);
});

Deno.test("free text is understood anywhere; delivery statuses are recorded", async () => {
  await using t = await setup({ grant: 10_000 });
  const phone = "+263771000009";
  await say(t, phone, text(phone, "hello"));
  const [unknown] = await say(t, phone, text(phone, "what is this?"));
  assert.match(unknown.text, /didn't get that/);
  const [help] = await say(t, phone, text(phone, "5"));
  assert.match(help.text, /\*Help\*/);
  const [balance] = await say(t, phone, text(phone, "Balance"));
  assert.match(balance.text, /10,000 tokens/);
  const [essay] = await say(
    t,
    phone,
    metaButtonReply({ from: phone, buttonId: "menu:main", title: "Menu" }),
  );
  assert.equal(essay.type, "interactive");
  const [report] = await say(t, phone, text(phone, "report a problem"));
  assert.match(report.text, /Describe the problem/);
  const [stopped] = await say(t, phone, text(phone, "STOP"));
  assert.match(stopped.text, /Stopped/);
  const [file] = await say(
    t,
    phone,
    metaLocation({ from: phone, latitude: -17.8, longitude: 31 }),
  );
  assert.match(file.text, /only read text/);

  // Meta reports what happened to a reply: recorded on the outbound row, forward only. (The
  // fake records a message before our send call has stored its id: wait for that first.)
  for (let i = 0; i < 50; i++) {
    const [sent] = await t.app.server.db.sql`select 1 as x from whatsapp_outbound
                                             where provider_message_id = ${file.id}`;
    if (sent) break;
    await sleep(50);
  }
  const status = (s: "delivered" | "read" | "sent") =>
    signedMetaWebhook(
      APP_SECRET,
      metaWebhook({
        statuses: [metaStatus({ messageId: file.id, status: s, recipient: phone })],
      }),
    );
  for (const s of ["read", "delivered"] as const) {
    const signed = status(s);
    const res = await t.app.fetch("/api/whatsapp/webhook", {
      method: "POST",
      body: signed.body,
      headers: signed.headers,
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }
  const [row] = await t.app.server.db.sql`select delivery_status from whatsapp_outbound
                                          where provider_message_id = ${file.id}`;
  assert.equal(row.delivery_status, "read");
});

Deno.test("the sandbox answers on its built-in Graph API, signed with the published secret", async () => {
  await using app = await startTestApp();
  const phone = "+263771000010";
  const signed = signedMetaWebhook(
    SANDBOX_WHATSAPP.appSecret,
    metaWebhook({ messages: [text(phone, "hi")] }),
  );
  const res = await app.fetch("/api/whatsapp/webhook", {
    method: "POST",
    body: signed.body,
    headers: signed.headers,
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const line = app.logs.find((l) => l.includes("sandbox: WhatsApp messages go to"))!;
  const graphUrl = JSON.parse(line).url as string;
  let messages: { to: string; text: string }[] = [];
  for (let i = 0; i < 100 && messages.length === 0; i++) {
    await sleep(100);
    messages = (await (await fetch(`${graphUrl}/_fake/messages`)).json()).messages;
  }
  assert.equal(messages.length, 1);
  assert.equal(messages[0].to, phone.slice(1));
  assert.match(messages[0].text, /Welcome to Hurukuro/);
});

Deno.test("KV file lost with 100 messages stored, one of them from a sender that is no phone number: the 99 others are answered exactly once", async () => {
  const storage = await prepareStorage();
  try {
    // Stored, then the KV file (and every queued reply job) was lost: no KV file at the start.
    const poisoned = "+26377123456789012345"; // 20 digits: stored before such senders were refused
    const phones = Array.from(
      { length: 100 },
      (_, i) => i === 37 ? poisoned : `+2637740${String(i).padStart(5, "0")}`,
    );
    const db = await storage.openDatabase();
    try {
      for (const phone of phones) {
        // Customers already (their accounts are not what this test is about).
        if (phone !== poisoned) await findOrCreatePhoneUser(db.sql, phone);
        const id = `wamid.lost-${phone}`;
        await db.sql`insert into whatsapp_inbound (provider, provider_message_id, phone, type,
                                                   message, received_at)
                     values ('meta', ${id}, ${phone}, 'text', ${
          db.sql.json({
            provider: "meta",
            id,
            from: phone,
            to: "",
            timestamp: Date.now(),
            type: "text",
            text: "hi",
          })
        }, now() - interval '5 minutes')`;
      }
    } finally {
      await db.close();
    }

    const t = await setup({ app: { storage, kvFile: true } });
    try {
      // The reconciler runs at the start: every valid phone is welcomed.
      await t.graph.waitForMessages(99, { timeoutMs: 60_000 });
      await t.app.server.queue.reconcile();
      await t.app.server.queue.reconcile();
      await sleep(1_000);
      const to = t.graph.messages.map((m) => "+" + m.to);
      assert.equal(to.length, 99, "one reply each");
      assert.deepEqual(new Set(to), new Set(phones.filter((p) => p !== poisoned)));

      const sql = t.app.server.db.sql;
      const statuses = await sql`select status, count(*)::int as n from whatsapp_inbound
                                 group by status order by status`;
      assert.deepEqual(statuses.map((r) => [r.status, r.n]), [["answered", 99], ["failed", 1]]);
      const dead = await sql`select job, last_error from job_failures`;
      assert.equal(dead.length, 1, "the poisoned row is a dead letter, once");
      assert.equal(dead[0].job, "whatsapp.reply");
      assert.match(dead[0].last_error, /phone/);
      assert.ok(!t.app.logs.some((l) => l.includes("reconciler failed")));
      const health = await (await t.app.fetch("/health")).json();
      assert.equal(health.status, "ok");
    } finally {
      await t.close();
    }
  } finally {
    await storage.cleanup();
  }
});
