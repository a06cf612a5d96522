/**
 * The fake Twilio behaves like Twilio's Messages API (auth, form fields, errors, media behind a
 * CDN redirect), our Twilio provider works against it over real HTTP, and webhooks signed by
 * whatsapp_sign.ts match the official `twilio` package's signature helper.
 */
import assert from "node:assert/strict";
import twilio from "twilio";
import { FakeTwilio, startFakeTwilio } from "./twilio.ts";
import {
  signedTwilioWebhook,
  TEST_TWILIO_NUMBER,
  twilioInbound,
  twilioStatus,
} from "./whatsapp_sign.ts";
import { TwilioProvider } from "../whatsapp/twilio.ts";
import { assertScriptedFailures, isKind } from "../../tests/whatsapp_errors.ts";

const USER = "+263771234567";
const PUBLIC_URL = "https://hurukuro.example/api/whatsapp/twilio";

function providerFor(fake: FakeTwilio, authToken = fake.authToken) {
  return new TwilioProvider({
    apiUrl: fake.url,
    messagingUrl: fake.url,
    accountSid: fake.accountSid,
    authToken,
    from: TEST_TWILIO_NUMBER,
    contentSids: { payment_received: "HX0123456789abcdef0123456789abcdef" },
  });
}

async function postForm(fake: FakeTwilio, fields: Record<string, string>, token = fake.authToken) {
  const response = await fetch(`${fake.url}/2010-04-01/Accounts/${fake.accountSid}/Messages.json`, {
    method: "POST",
    headers: {
      authorization: "Basic " + btoa(`${fake.accountSid}:${token}`),
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams(fields),
  });
  return { status: response.status, body: await response.json() };
}

const whatsapp = { From: `whatsapp:${TEST_TWILIO_NUMBER}`, To: `whatsapp:${USER}` };

Deno.test("a text sent through the provider is recorded and answered like Twilio", async () => {
  await using fake = await startFakeTwilio();
  const { providerMessageId } = await providerFor(fake).send(USER, {
    type: "text",
    text: "Mhoro!",
  });

  assert.match(providerMessageId, /^SM[0-9a-f]{32}$/);
  assert.equal(fake.messages.length, 1);
  const [sent] = fake.messages;
  assert.deepEqual(
    [sent.sid, sent.to, sent.from, sent.body],
    [providerMessageId, "whatsapp:+263771234567", "whatsapp:+14155238886", "Mhoro!"],
  );
});

Deno.test("the create answer has Twilio's message JSON shape", async () => {
  await using fake = await startFakeTwilio();
  const { status, body } = await postForm(fake, { ...whatsapp, Body: "hi" });
  assert.equal(status, 201);
  assert.equal(body.account_sid, fake.accountSid);
  assert.equal(body.status, "queued");
  assert.equal(body.direction, "outbound-api");
  assert.equal(body.api_version, "2010-04-01");
  assert.equal(body.uri, `/2010-04-01/Accounts/${fake.accountSid}/Messages/${body.sid}.json`);
  assert.match(body.date_created, /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
});

Deno.test("bad credentials get Twilio's 20003 and the provider's unauthorized error", async () => {
  await using fake = await startFakeTwilio();
  const { status, body } = await postForm(fake, { ...whatsapp, Body: "hi" }, "wrong");
  assert.equal(status, 401);
  assert.deepEqual(body, {
    code: 20003,
    message: "Authenticate",
    more_info: "https://www.twilio.com/docs/errors/20003",
    status: 401,
  });
  await assert.rejects(
    providerFor(fake, "wrong").send(USER, { type: "text", text: "x" }),
    isKind("unauthorized", (e) => e.code === 20003),
  );
  assert.equal(fake.messages.length, 0);
});

Deno.test("what Twilio refuses gets Twilio's error code and message", async () => {
  await using fake = await startFakeTwilio();
  const cases: [Record<string, string>, number][] = [
    [{ From: whatsapp.From, Body: "x" }, 21604],
    [{ To: whatsapp.To, Body: "x" }, 21603],
    [{ ...whatsapp }, 21619],
    [{ ...whatsapp, Body: "x".repeat(1601) }, 21617],
    [{ ...whatsapp, From: TEST_TWILIO_NUMBER, Body: "x" }, 21910],
    [{ ...whatsapp, To: "whatsapp:0771", Body: "x" }, 21211],
    [{ ...whatsapp, ContentSid: "HX1", ContentVariables: "{nope" }, 21656],
  ];
  for (const [fields, code] of cases) {
    const { status, body } = await postForm(fake, fields);
    assert.equal(status, 400, JSON.stringify(fields).slice(0, 80));
    assert.equal(body.code, code);
    assert.equal(body.status, 400);
    assert.equal(body.more_info, `https://www.twilio.com/docs/errors/${code}`);
  }
  const otherAccount = await fetch(`${fake.url}/2010-04-01/Accounts/ACother/Messages.json`, {
    method: "POST",
    headers: {
      authorization: "Basic " + btoa(`${fake.accountSid}:${fake.authToken}`),
      "content-type": "application/x-www-form-urlencoded",
    },
    body: "Body=x",
  });
  assert.equal(otherAccount.status, 404);
  assert.equal((await otherAccount.json()).code, 20404);
  assert.equal(fake.messages.length, 0);
});

Deno.test("failNext makes sends fail as Twilio does, then recover", async () => {
  await using fake = await startFakeTwilio();
  const provider = providerFor(fake);
  await assertScriptedFailures(fake, provider, USER, [
    ["rate_limit", "rate_limited"],
    ["server_error", "server"],
    ["outside_window", "outside_window"],
    ["unauthorized", "unauthorized"],
  ]);
  fake.failNext(2);
  await assert.rejects(provider.send(USER, { type: "text", text: "x" }), isKind("rate_limited"));
  await assert.rejects(provider.send(USER, { type: "text", text: "x" }), isKind("rate_limited"));
  await provider.send(USER, { type: "text", text: "finally" });
  assert.deepEqual(fake.messages.map((m) => m.body), ["finally"]);
});

Deno.test("menus arrive as numbered text and templates as Content SID with variables", async () => {
  await using fake = await startFakeTwilio();
  const provider = providerFor(fake);
  await provider.send(USER, {
    type: "buttons",
    body: "Pay 500 tokens with?",
    buttons: [{ id: "eco", title: "EcoCash" }, { id: "one", title: "OneMoney" }],
  });
  await provider.send(USER, {
    type: "template",
    name: "payment_received",
    language: "en",
    parameters: ["500", "740"],
  });
  const [menu, template] = await fake.waitForMessages(2, { to: USER });
  assert.equal(
    menu.body,
    "Pay 500 tokens with?\n\n1. EcoCash\n2. OneMoney\n\nReply with the number of your choice.",
  );
  assert.equal(template.contentSid, "HX0123456789abcdef0123456789abcdef");
  assert.deepEqual(template.contentVariables, { "1": "500", "2": "740" });
});

Deno.test("the typing indicator is recorded; a bad message id is refused", async () => {
  await using fake = await startFakeTwilio();
  const provider = providerFor(fake);
  const inbound = "SM" + "ab".repeat(16);
  await provider.markRead(inbound, { typing: true });
  assert.deepEqual(fake.typingIndicators.map((t) => [t.messageId, t.channel]), [
    [inbound, "whatsapp"],
  ]);
  await assert.rejects(provider.markRead("nonsense", { typing: true }), isKind("rejected"));
});

Deno.test("media wants Basic auth, redirects to a CDN, and our provider does not leak credentials there", async () => {
  await using fake = await startFakeTwilio();
  const bytes = crypto.getRandomValues(new Uint8Array(20_000));
  const url = fake.addMedia(bytes, "image/jpeg");
  assert.match(
    url,
    new RegExp(`/Accounts/${fake.accountSid}/Messages/MM[0-9a-f]{32}/Media/ME[0-9a-f]{32}$`),
  );

  const anonymous = await fetch(url);
  assert.equal(anonymous.status, 401);
  await anonymous.body?.cancel();

  const media = await providerFor(fake).downloadMedia({ source: "url", url });
  assert.deepEqual(media, { bytes, mimeType: "image/jpeg" });
  assert.equal(fake.cdnSawCredentials, false);

  await assert.rejects(
    providerFor(fake).downloadMedia({ source: "url", url }, { maxBytes: 1_000 }),
    isKind("media_too_large"),
  );
});

Deno.test("the fake's CDN notices credentials that follow a redirect (so the check above can fail)", async () => {
  await using fake = await startFakeTwilio();
  const url = fake.addMedia(new Uint8Array([1]), "image/png");
  const auth = { authorization: "Basic " + btoa(`${fake.accountSid}:${fake.authToken}`) };
  const redirect = await fetch(url, { headers: auth, redirect: "manual" });
  const cdn = await fetch(redirect.headers.get("location")!, { headers: auth });
  await cdn.body?.cancel();
  assert.equal(fake.cdnSawCredentials, true);
});

Deno.test("waitForMessages rejects with what did arrive when too few come", async () => {
  await using fake = await startFakeTwilio();
  await providerFor(fake).send(USER, { type: "text", text: "only one" });
  await assert.rejects(fake.waitForMessages(2, { timeoutMs: 30 }), /got 1: \["only one"\]/);
  assert.equal((await fake.waitForMessages(1, { to: "263771234567" })).length, 1);
});

// ---------------------------------------------------------------------------------------------
// whatsapp_sign.ts against the official helper and our verification

Deno.test("a webhook signed by the helper carries the official twilio signature", async () => {
  const token = "twilio-auth-token";
  const params = twilioInbound({ from: USER, body: "Buy tokens 💰 & more", profileName: "Tendai" });
  const { body, headers } = signedTwilioWebhook(token, PUBLIC_URL, params);

  assert.equal(
    headers["x-twilio-signature"],
    twilio.getExpectedTwilioSignature(token, PUBLIC_URL, params),
  );
  assert.equal(
    twilio.validateRequest(token, headers["x-twilio-signature"], PUBLIC_URL, params),
    true,
  );

  const provider = new TwilioProvider({
    accountSid: "AC1",
    authToken: token,
    from: TEST_TWILIO_NUMBER,
  });
  const request = {
    url: PUBLIC_URL,
    headers: new Headers(headers),
    body: new TextEncoder().encode(body),
  };
  assert.equal(await provider.verifySignature(request), true);
  const altered = new TextEncoder().encode(body.replace("Tendai", "Tendaj"));
  assert.equal(await provider.verifySignature({ ...request, body: altered }), false);
  assert.equal(await provider.verifySignature({ ...request, url: PUBLIC_URL + "/" }), false);

  const [message] = provider.parseInbound(request).messages;
  assert.ok(message.type === "text");
  assert.deepEqual([message.from, message.to, message.profileName, message.text], [
    USER,
    TEST_TWILIO_NUMBER,
    "Tendai",
    "Buy tokens 💰 & more",
  ]);
});

Deno.test("helper-built media, button and status webhooks parse into our types", () => {
  const provider = new TwilioProvider({
    accountSid: "AC1",
    authToken: "t",
    from: TEST_TWILIO_NUMBER,
  });
  const parse = (params: Record<string, string>) =>
    provider.parseInbound({
      url: PUBLIC_URL,
      headers: new Headers(),
      body: new TextEncoder().encode(new URLSearchParams(params).toString()),
    });
  const image = parse(twilioInbound({
    from: USER,
    body: "receipt",
    media: [{ url: "https://api.twilio.com/m/ME1", contentType: "image/png" }],
  })).messages[0];
  assert.ok(image.type === "image");
  assert.equal(image.caption, "receipt");

  const button = parse(twilioInbound({ from: USER, buttonText: "Resume", buttonPayload: "RESUME" }))
    .messages[0];
  assert.ok(button.type === "button_reply");
  assert.equal(button.buttonId, "RESUME");

  const status = parse(twilioStatus({
    messageSid: "SMx",
    status: "undelivered",
    to: USER,
    errorCode: 63016,
  }));
  assert.deepEqual(status.statuses.map((s) => [s.messageId, s.status, s.errors[0].code]), [
    ["SMx", "failed", 63016],
  ]);
});
