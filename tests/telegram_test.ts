/**
 * Telegram as a chat channel, end to end against the fake Bot API and the fake model: linking
 * with a code from /account, the same assistant billed once to the same wallet, redeliveries
 * answered once, the webhook's secret, retries on Telegram's 429, and unlinking.
 */
import assert from "node:assert/strict";
import { getBalance } from "../lib/wallet/ledger.ts";
import {
  count,
  linkCode,
  say,
  settled,
  setupTelegram,
  shown,
  signedInUser,
  sleep,
  textUpdate,
  WEBHOOK_PATH,
  WEBHOOK_SECRET,
} from "./telegram_app.ts";
import { startTestApp } from "./harness.ts";

const CHAT = 5_550_001;

Deno.test("a Telegram user links an account, asks a question, gets the answer, is billed once", async () => {
  await using t = await setupTelegram();
  const sql = t.app.server.db.sql;
  const browser = await signedInUser(t.app, "tendai@example.com", { tokens: 100_000 });

  // Unlinked: told how to link.
  const [intro] = await say(t, CHAT, "hello");
  assert.match(shown(intro), /link this Telegram account/);
  assert.match(shown(intro), /\/account/);

  const code = await linkCode(browser);
  const [linked, menu] = await say(t, CHAT, `/link ${code}`, 2);
  assert.match(
    shown(linked),
    /^Linked! This Telegram account now uses your Hurukuro account \(t\*\*\*@e\*\*\*\.com\)/,
  );
  assert.match(shown(menu), /1\. Chat/);
  assert.doesNotMatch(shown(menu), /Report a problem/);
  assert.equal(await count(t.app, `telegram_links where user_id = '${browser.user.id}'`), 1);
  const page = await (await t.app.fetch("/account", { headers: { cookie: browser.cookie } }))
    .text();
  assert.match(page, /Linked to Telegram \(@tendai_m\)/);

  const [chatting] = await say(t, CHAT, "/chat");
  assert.match(shown(chatting), /Ask me anything/);
  const before = (await getBalance(sql, browser.user.id)).available;
  const [answer] = await say(t, CHAT, "What is the capital of Zimbabwe?");
  assert.match(shown(answer), /You asked: "What is the capital of Zimbabwe\?"/);
  assert.equal(answer.parseMode, "HTML");

  const [conversation] = await sql`select * from conversations where user_id = ${browser.user.id}`;
  assert.equal(conversation.channel, "telegram");
  const messages = await sql`select role, cost, channel from messages
                             where conversation_id = ${conversation.id} order by created_at, role desc`;
  assert.deepEqual(messages.map((m) => [m.role, m.channel]), [
    ["user", "telegram"],
    ["assistant", "telegram"],
  ]);
  const cost = Number(messages[1].cost);
  assert.ok(cost > 0);
  const debits = await sql`select amount from ledger_entries
                           where user_id = ${browser.user.id} and kind = 'usage_debit'`;
  assert.deepEqual(debits.map((d) => Number(d.amount)), [cost], "billed once");
  assert.equal((await getBalance(sql, browser.user.id)).available, before - cost);
  assert.equal(t.openai.calls("/v1/chat/completions").length, 1);

  // Balance, from the same wallet.
  const [balance] = await say(t, CHAT, "/balance");
  assert.match(
    shown(balance),
    new RegExp(`Your balance: ${(before - cost).toLocaleString("en-US")} tokens`),
  );
  // Every update answered, every message sent once.
  await settled(t.app);
  assert.equal(await count(t.app, "telegram_updates where status <> 'answered'"), 0);
  assert.equal(await count(t.app, "telegram_outbound where status <> 'sent'"), 0);
  assert.equal(t.telegram.messages.length, await count(t.app, "telegram_outbound"));
});

Deno.test("the same update delivered twice is answered once, and billed once", async () => {
  await using t = await setupTelegram();
  const browser = await signedInUser(t.app, "rudo@example.com", { tokens: 100_000 });
  await say(t, CHAT, `/link ${await linkCode(browser)}`, 2);
  await say(t, CHAT, "/essay");

  const update = textUpdate(CHAT, "Explain photosynthesis", 900_001);
  const before = t.telegram.messages.length;
  // At once, and again after the first was answered (Telegram retries a slow answer).
  const statuses = await Promise.all([1, 2].map(async () => {
    const res = await t.telegram.deliverUpdate(update);
    await res.body?.cancel();
    return res.status;
  }));
  assert.deepEqual(statuses, [200, 200]);
  await t.telegram.waitForMessages(before + 1);
  const again = await t.telegram.deliverUpdate(update);
  assert.equal(again.status, 200);
  assert.equal((await again.json()).outcome, "duplicate");
  await sleep(500);

  assert.equal(t.telegram.messages.length, before + 1, "one answer");
  assert.equal(await count(t.app, "telegram_updates where update_id = 900001"), 1);
  const calls = t.openai.calls("/v1/chat/completions");
  assert.equal(calls.length, 1, "one AI call");
  // An essay may outlast the silence limit before its last word: it streams even when sent whole.
  assert.equal((calls[0].body as { stream?: boolean }).stream, true);
  assert.equal(
    await count(
      t.app,
      `ledger_entries where user_id = '${browser.user.id}' and kind = 'usage_debit'`,
    ),
    1,
  );
});

Deno.test("a missing or wrong secret is refused with 401 and nothing else; no secret configured: 404", async () => {
  const t = await setupTelegram();
  try {
    const body = JSON.stringify({ update_id: 77, ...textUpdate(CHAT, "hello") });
    const post = (headers: Record<string, string>) =>
      t.app.fetch(WEBHOOK_PATH, {
        method: "POST",
        body,
        headers: { "content-type": "application/json", ...headers },
      });
    for (
      const headers of [
        {} as Record<string, string>,
        { "x-telegram-bot-api-secret-token": "wrong" },
        { "x-telegram-bot-api-secret-token": WEBHOOK_SECRET.slice(0, -1) },
        { "x-telegram-bot-api-secret-token": WEBHOOK_SECRET + "x" },
      ]
    ) {
      const res = await post(headers);
      assert.equal(res.status, 401);
      const answer = await res.text();
      assert.doesNotMatch(answer, /secret|token|header/i, "no detail");
    }
    await sleep(200);
    assert.equal(await count(t.app, "telegram_updates"), 0);
    assert.equal(t.telegram.messages.length, 0);

    const right = await post({ "x-telegram-bot-api-secret-token": WEBHOOK_SECRET });
    assert.equal(right.status, 200);
    await right.body?.cancel();
    await t.telegram.waitForMessages(1);
    assert.ok(t.app.logs.every((line) => !line.includes(WEBHOOK_SECRET)), "never logged");
  } finally {
    await t.close();
  }

  await using off = await startTestApp();
  const res = await off.fetch(WEBHOOK_PATH, {
    method: "POST",
    body: "{}",
    headers: { "x-telegram-bot-api-secret-token": WEBHOOK_SECRET },
  });
  assert.equal(res.status, 404);
  await res.body?.cancel();
  // Nor is there a Telegram part on /account.
  const browser = await signedInUser(off, "off@example.com");
  const page = await (await off.fetch("/account", { headers: { cookie: browser.cookie } }))
    .text();
  assert.doesNotMatch(page, /Telegram/);
  const code = await browser.post("/account/telegram/code");
  await code.body?.cancel();
  assert.equal(code.status, 404);
});

Deno.test("Telegram's 429 is waited out (retry_after) and the reply still goes once", async () => {
  await using t = await setupTelegram();
  t.telegram.failNext(1, { status: 429, retryAfterSeconds: 1 });
  const started = performance.now();
  const [reply] = await say(t, CHAT, "hi");
  assert.ok(performance.now() - started >= 900, "waited for retry_after");
  assert.match(shown(reply), /link this Telegram account/);
  await sleep(300);
  assert.equal(t.telegram.messages.length, 1);
  const [row] = await t.app.server.db.sql`select status, attempts from telegram_outbound`;
  assert.deepEqual([row.status, row.attempts], ["sent", 2]);
});

Deno.test("codes work once and expire; unlinking from /account or /unlink ends the link", async () => {
  await using t = await setupTelegram();
  const sql = t.app.server.db.sql;
  const browser = await signedInUser(t.app, "chipo@example.com", { tokens: 100_000 });
  const code = await linkCode(browser);
  assert.equal(
    await count(t.app, `telegram_link_codes where code_hash = '${code}'`),
    0,
    "hashed",
  );
  // A t.me link sends /start CODE.
  await say(t, CHAT, `/start ${code.toLowerCase()}`, 2);
  // Used: another chat cannot use it.
  const [refused] = await say(t, CHAT + 1, `/link ${code}`);
  assert.match(shown(refused), /not valid, or it has expired or been used/);

  // A newer code voids the older one; an expired one does not work.
  const older = await linkCode(browser);
  const newer = await linkCode(browser);
  assert.match(shown((await say(t, CHAT + 1, `/link ${older}`))[0]), /not valid/);
  await sql`update telegram_link_codes set expires_at = now() - interval '1 second'`;
  assert.match(shown((await say(t, CHAT + 1, `/link ${newer}`))[0]), /not valid/);

  const res = await browser.post("/account/telegram/unlink");
  assert.equal(res.status, 303);
  await res.body?.cancel();
  assert.equal(await count(t.app, "telegram_links"), 0);
  assert.match(shown((await say(t, CHAT, "hello"))[0]), /link this Telegram account/);

  await say(t, CHAT, `/link ${await linkCode(browser)}`, 2);
  assert.match(shown((await say(t, CHAT, "/unlink"))[0]), /no longer linked/);
  assert.equal(await count(t.app, "telegram_links"), 0);
});
