/**
 * The Telegram end-to-end tests' app: the real app with the Bot API pointed at the fake
 * Telegram (whose webhook is set to the app, with the secret, as `setWebhook` does) and the chat
 * at the fake OpenAI server; accounts signed in as a browser; updates delivered by the fake and a
 * wait for the messages they cause.
 */
import assert from "node:assert/strict";
import { count, sleep, type TestApp, type TestAppOptions, withFakes } from "./harness.ts";
import { type ChatApp, startChatApp } from "./chat_app.ts";
import {
  type FakeTelegram,
  type RecordedTelegramMessage,
  startFakeTelegram,
} from "../lib/sandbox/telegram.ts";
import { setSetting } from "../lib/accounts/settings.ts";
import { createUser, type User } from "../lib/accounts/users.ts";
import { postForm, signedIn } from "./fixtures/forms.ts";

export const WEBHOOK_SECRET = "tg-webhook-secret-for-tests_0123456789";
export const WEBHOOK_PATH = "/api/telegram/webhook";

export interface TelegramSetup extends ChatApp {
  telegram: FakeTelegram;
}

export async function setupTelegram(
  options: { env?: Record<string, string>; app?: Omit<TestAppOptions, "env"> } = {},
): Promise<TelegramSetup> {
  const telegram = await startFakeTelegram();
  const chat = await startChatApp({
    ...options.app,
    env: {
      TELEGRAM_BOT_TOKEN: telegram.token,
      TELEGRAM_API_URL: telegram.url,
      TELEGRAM_WEBHOOK_SECRET: WEBHOOK_SECRET,
      TELEGRAM_BOT_USERNAME: "HurukuroTestBot",
      ...options.env,
    },
  });
  const set = await fetch(`${telegram.url}/bot${telegram.token}/setWebhook`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ url: chat.app.url + WEBHOOK_PATH, secret_token: WEBHOOK_SECRET }),
  });
  assert.equal((await set.json()).ok, true);
  return withFakes(chat.app, { openai: chat.openai, telegram });
}

export interface Browser {
  user: User;
  cookie: string;
  csrf: string;
  /** Posts a form (with the CSRF token); the response. */
  post(path: string, fields?: Record<string, string>): Promise<Response>;
}

/** A user with `tokens` in their wallet, signed in. */
export async function signedInUser(
  app: TestApp,
  email: string,
  options: { tokens?: number; admin?: boolean } = {},
): Promise<Browser> {
  const sql = app.server.db.sql;
  await setSetting(sql, "signup_grant_tokens", options.tokens ?? 0);
  const user = await createUser(sql, {
    email,
    password: "a-long-enough-password",
    role: options.admin ? "admin" : "user",
  });
  const visit = await signedIn(app, user.id, options.admin);
  return { user, ...visit, post: (path, fields = {}) => postForm(app, path, visit, fields) };
}

/** A code from /account, as the page shows it. */
export async function linkCode(browser: Browser): Promise<string> {
  const res = await browser.post("/account/telegram/code");
  const html = await res.text();
  assert.equal(res.status, 200, html.slice(0, 300));
  const code = html.match(/data-testid="telegram-code">([A-Z0-9]+)</)?.[1];
  assert.ok(code, "the page shows a code");
  return code;
}

/** A private-chat text message as Telegram delivers it (update_id: the fake's next, unless given). */
export function textUpdate(chatId: number, text: string, updateId?: number) {
  return {
    ...(updateId === undefined ? {} : { update_id: updateId }),
    message: {
      message_id: Math.floor(Math.random() * 1e6),
      from: { id: chatId, is_bot: false, first_name: "Tendai", username: "tendai_m" },
      chat: { id: chatId, type: "private", first_name: "Tendai" },
      date: Math.floor(Date.now() / 1000),
      text,
    },
  };
}

/** Sends one message to the bot and waits for `expect` new messages in that chat. */
export async function say(
  t: TelegramSetup,
  chatId: number,
  text: string,
  expect = 1,
): Promise<RecordedTelegramMessage[]> {
  const mine = (m: RecordedTelegramMessage) => m.chatId === String(chatId);
  const before = t.telegram.messages.filter(mine).length;
  const res = await t.telegram.deliverUpdate(textUpdate(chatId, text));
  assert.equal(res.status, 200, await res.clone().text());
  await res.body?.cancel();
  const all = await t.telegram.waitForMessages(before + expect, { match: mine, timeoutMs: 15_000 });
  return all.slice(before);
}

/** What Telegram shows for a message we sent (our HTML without its tags). */
export const shown = (m: RecordedTelegramMessage) =>
  m.text.replace(/<[^>]*>/g, "").replaceAll("&lt;", "<").replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");

export { count, sleep };

/** Waits until no update is open and no message waits to be sent. */
export async function settled(app: TestApp, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (
    await count(app, "telegram_updates where status in ('pending', 'working')") +
        await count(app, "telegram_outbound where status in ('queued', 'sending')") > 0
  ) {
    if (Date.now() > until) throw new Error("Telegram work still open");
    await sleep(50);
  }
}
