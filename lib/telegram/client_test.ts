import assert from "node:assert/strict";
import { parseTelegramHtml, startFakeTelegram } from "../sandbox/telegram.ts";
import {
  createTelegramClient,
  hasWebhookSecret,
  TELEGRAM_SECRET_HEADER,
  TelegramError,
} from "./client.ts";

const failureOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (error) {
    assert.ok(error instanceof TelegramError, String(error));
    return error;
  }
  throw new Error("expected a TelegramError");
};

Deno.test("Telegram client: sendMessage, and refusals read as Telegram means them", async () => {
  await using telegram = await startFakeTelegram({ chats: [42] });
  const client = createTelegramClient({ token: telegram.token, apiUrl: telegram.url });

  const sent = await client.sendMessage({
    chat_id: 42,
    text: "<b>Paid</b> &amp; done",
    parse_mode: "HTML",
  });
  assert.equal(sent.chat.id, 42);
  assert.equal(sent.text, "Paid & done");

  const unknown = await failureOf(client.sendMessage({ chat_id: 7, text: "x" }));
  assert.equal(unknown.failure.description, "Bad Request: chat not found");
  assert.equal(unknown.failure.retryable, false);

  const html = await failureOf(
    client.sendMessage({ chat_id: 42, text: "<h1>x</h1>", parse_mode: "HTML" }),
  );
  assert.match(html.failure.description!, /Unsupported start tag "h1"/);

  telegram.failNext(1, { status: 429, retryAfterSeconds: 3 });
  const limited = await failureOf(client.sendMessage({ chat_id: 42, text: "x" }));
  assert.equal(limited.failure.retryAfterSeconds, 3);
  assert.equal(limited.failure.retryable, true);

  telegram.failNext(1, { status: 500 });
  assert.equal(
    (await failureOf(client.sendMessage({ chat_id: 42, text: "x" }))).failure.retryable,
    true,
  );

  const wrong = createTelegramClient({ token: "1:wrong", apiUrl: telegram.url });
  const auth = await failureOf(wrong.sendMessage({ chat_id: 42, text: "x" }));
  assert.equal(auth.failure.errorCode, 401);
  assert.equal(auth.failure.retryable, false);
});

Deno.test("Telegram client: a network failure never shows the token (it is in the URL)", async () => {
  const client = createTelegramClient({ token: "123:very-secret", apiUrl: "http://127.0.0.1:9" });
  const error = await failureOf(client.sendMessage({ chat_id: 1, text: "x" }));
  assert.equal(error.failure.retryable, true);
  assert.doesNotMatch(error.message, /very-secret/);
});

Deno.test("Telegram webhook secret: the fake's deliveries carry it; others do not pass", async () => {
  await using telegram = await startFakeTelegram();
  const seen: boolean[] = [];
  const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push(hasWebhookSecret(req.headers, "s3cret-value"));
    return new Response("ok");
  });
  try {
    await fetch(`${telegram.url}/bot${telegram.token}/setWebhook`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        url: `http://127.0.0.1:${receiver.addr.port}/hook`,
        secret_token: "s3cret-value",
      }),
    }).then((r) => r.body?.cancel());
    await (await telegram.deliverUpdate({ message: { text: "hi" } })).body?.cancel();
    assert.deepEqual(seen, [true]);
  } finally {
    await receiver.shutdown();
  }
  assert.equal(
    hasWebhookSecret(new Headers({ [TELEGRAM_SECRET_HEADER]: "s3cret-valuX" }), "s3cret-value"),
    false,
  );
  assert.equal(hasWebhookSecret(new Headers(), "s3cret-value"), false);
  assert.equal(hasWebhookSecret(new Headers({ [TELEGRAM_SECRET_HEADER]: "" }), ""), false);
});

Deno.test("the fake's HTML check: Telegram's tags nested, its entities only", () => {
  assert.deepEqual(parseTelegramHtml('<b>a</b> <a href="https://x">l</a> &lt;3'), {
    text: "a l <3",
  });
  assert.ok("error" in parseTelegramHtml("<b>a"));
  assert.ok("error" in parseTelegramHtml("<b><i>a</b></i>"));
  assert.ok("error" in parseTelegramHtml("a < b"));
  assert.ok("error" in parseTelegramHtml("&nbsp;"));
  assert.ok("error" in parseTelegramHtml("&constructor;"), "an inherited name is no entity");
});

Deno.test("the fake reads keyboards as Telegram does, and a chat that blocked the bot answers 403", async () => {
  await using telegram = await startFakeTelegram();
  const client = createTelegramClient({ token: telegram.token, apiUrl: telegram.url });
  const keyboard = { keyboard: [[{ text: "Chat" }, { text: "Essay" }]], one_time_keyboard: true };
  const sent = await client.sendMessage({ chat_id: 42, text: "Menu", reply_markup: keyboard });
  assert.equal(sent.text, "Menu");
  assert.deepEqual(telegram.messages[0].payload.reply_markup, keyboard);
  for (const bad of [{ keyboard: [] }, { keyboard: [[{ label: "x" }]] }, [], "nope"]) {
    const refused = await failureOf(
      client.sendMessage({ chat_id: 42, text: "x", reply_markup: bad as never }),
    );
    assert.match(refused.failure.description!, /can't parse reply keyboard markup/);
    assert.equal(refused.failure.retryable, false);
  }
  telegram.block(42);
  const blocked = await failureOf(client.sendMessage({ chat_id: 42, text: "x" }));
  assert.equal(blocked.failure.errorCode, 403);
  assert.equal(blocked.failure.description, "Forbidden: bot was blocked by the user");
  assert.equal(blocked.failure.retryable, false);
});
