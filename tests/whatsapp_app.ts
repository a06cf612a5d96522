/**
 * The WhatsApp end-to-end tests' app: the real app with Meta pointed at the fake Graph API, the
 * chat at the fake OpenAI server and (optionally) payments at the fake Paynow; signed deliveries
 * and a wait for the replies they cause.
 */
import assert from "node:assert/strict";
import {
  closing,
  count,
  sleep,
  startTestApp,
  type TestApp,
  type TestAppOptions,
} from "./harness.ts";
import { type ChatApp, startChatApp } from "./chat_app.ts";
import {
  type FakeGraphApi,
  type RecordedMessage,
  startFakeGraphApi,
} from "../lib/sandbox/whatsapp_graph.ts";
import { type FakePaynow, startFakePaynow } from "../lib/sandbox/paynow.ts";
import { type FakeTwilio, startFakeTwilio } from "../lib/sandbox/twilio.ts";
import {
  type MetaMessage,
  metaText,
  metaWebhook,
  signedMetaWebhook,
  TEST_PHONE_NUMBER_ID,
} from "../lib/sandbox/whatsapp_sign.ts";
import { setSetting } from "../lib/accounts/settings.ts";
import { paynowEnv } from "./fixtures/paynow.ts";

export const APP_SECRET = "meta-app-secret-for-tests";
export const VERIFY_TOKEN = "verify-me-please";
export const PAYNOW_KEY = "3e9fed89-60e1-4ce5-ab6e-6b1eb2d4f977";

export interface Setup extends ChatApp {
  graph: FakeGraphApi;
  paynow?: FakePaynow;
}

export async function setup(
  options: {
    grant?: number;
    paynow?: boolean;
    env?: Record<string, string>;
    /** Passed on to the harness (a KV file, a storage to reuse). */
    app?: Omit<TestAppOptions, "env">;
    /** Reuse this fake Graph API (and leave it open at close). */
    graph?: FakeGraphApi;
  } = {},
): Promise<Setup> {
  const graph = options.graph ?? await startFakeGraphApi();
  const paynow = options.paynow
    ? await startFakePaynow({ integrations: { "1201": PAYNOW_KEY }, timeScale: 0.01 })
    : undefined;
  const chat = await startChatApp({
    ...options.app,
    env: {
      WHATSAPP_TOKEN: graph.accessToken,
      WHATSAPP_PHONE_NUMBER_ID: TEST_PHONE_NUMBER_ID,
      WHATSAPP_APP_SECRET: APP_SECRET,
      WHATSAPP_VERIFY_TOKEN: VERIFY_TOKEN,
      WHATSAPP_GRAPH_URL: graph.url,
      ...(paynow ? paynowEnv(paynow.url, PAYNOW_KEY) : {}),
      ...options.env,
    },
  });
  if (options.grant) await setSetting(chat.app.server.db.sql, "signup_grant_tokens", options.grant);
  return closing({
    ...chat,
    graph,
    paynow,
    async close() {
      await chat.close();
      if (!options.graph) await graph.close();
      await paynow?.close();
    },
  });
}

/** The app with WhatsApp through Twilio, pointed at the fake Twilio; the caller closes both. */
export async function twilioApp(): Promise<{ fake: FakeTwilio; app: TestApp }> {
  const fake = await startFakeTwilio();
  const app = await startTestApp({
    env: {
      WHATSAPP_PROVIDER: "twilio",
      TWILIO_ACCOUNT_SID: fake.accountSid,
      TWILIO_AUTH_TOKEN: fake.authToken,
      TWILIO_WHATSAPP_FROM: "+14155238886",
      TWILIO_API_URL: fake.url,
    },
  });
  return { fake, app };
}

/** The POST Meta makes to the webhook for `messages` (or a raw body), signed with `secret`. */
export function metaDelivery(
  messages: MetaMessage[] | string,
  options: { secret?: string; headers?: Record<string, string> } = {},
): RequestInit {
  const signed = signedMetaWebhook(
    options.secret ?? APP_SECRET,
    typeof messages === "string" ? messages : metaWebhook({ messages }),
  );
  return { method: "POST", body: signed.body, headers: { ...signed.headers, ...options.headers } };
}

export function deliver(
  app: TestApp,
  messages: MetaMessage[] | string,
  headers?: Record<string, string>,
) {
  return app.fetch("/api/whatsapp/webhook", metaDelivery(messages, { headers }));
}

/** Sends one message and waits for the replies to it (`expect` new messages to that user). */
export async function say(
  t: Setup,
  phone: string,
  message: MetaMessage,
  expect = 1,
): Promise<RecordedMessage[]> {
  const before = t.graph.messages.filter((m) => m.to === phone.slice(1)).length;
  const res = await deliver(t.app, [message]);
  assert.equal(res.status, 200, await res.clone().text());
  await res.body?.cancel();
  const all = await t.graph.waitForMessages(before + expect, { to: phone, timeoutMs: 15_000 });
  return all.slice(before);
}

export const text = (phone: string, body: string) => metaText({ from: phone, text: body });
export const bodyOf = (m: RecordedMessage) => m.text;
export { count, sleep };
