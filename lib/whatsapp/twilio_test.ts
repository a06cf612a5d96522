/**
 * Twilio: the signature against the official `twilio` package's own helper (both directions,
 * generated inputs, one-character alterations), form parsing, outbound fields, error mapping and
 * the provider's HTTP calls (against a recording `fetch`; lib/sandbox/twilio_test.ts runs it
 * against the fake Twilio over real HTTP).
 */
import assert from "node:assert/strict";
import twilio from "twilio";
import {
  parseForm,
  parseTwilioWebhook,
  twilioApiError,
  twilioMessageFields,
  type TwilioOptions,
  TwilioProvider,
  twilioSignature,
  verifyTwilioSignature,
} from "./twilio.ts";
import { WhatsAppError } from "./types.ts";
import { recordingFetch } from "../../tests/recording_fetch.ts";
import { assertEastgate } from "../../tests/fixtures/whatsapp.ts";

const TOKEN = "12345678901234567890123456789012";
const URL_CALLED = "https://hurukuro.example/api/whatsapp/twilio?tenant=zw&x=a%20b";

/** What Twilio posts for an inbound WhatsApp message (field order as Twilio sends it). */
const INBOUND: Record<string, string> = {
  SmsMessageSid: "SM0123456789abcdef0123456789abcdef",
  NumMedia: "0",
  ProfileName: "Tendai Moyo",
  MessageType: "text",
  SmsSid: "SM0123456789abcdef0123456789abcdef",
  WaId: "263771234567",
  SmsStatus: "received",
  Body: "Mhoro! 1 + 1 = 2 & 50% off? 👋🏾",
  To: "whatsapp:+14155238886",
  NumSegments: "1",
  ReferralNumMedia: "0",
  MessageSid: "SM0123456789abcdef0123456789abcdef",
  AccountSid: "AC0123456789abcdef0123456789abcdef",
  From: "whatsapp:+263771234567",
  ApiVersion: "2010-04-01",
};

// ---------------------------------------------------------------------------------------------
// Signature, cross-checked with the official package

Deno.test("a request signed by the official twilio helper is accepted", async () => {
  const signature = twilio.getExpectedTwilioSignature(TOKEN, URL_CALLED, INBOUND);
  assert.equal(await verifyTwilioSignature(TOKEN, URL_CALLED, INBOUND, signature), true);
  // Through the form body as it arrives on the wire, too.
  const wire = new URLSearchParams(INBOUND).toString();
  assert.equal(await verifyTwilioSignature(TOKEN, URL_CALLED, parseForm(wire), signature), true);
});

Deno.test("our signature is the one the official helper expects", async () => {
  const ours = await twilioSignature(TOKEN, URL_CALLED, INBOUND);
  assert.equal(ours, twilio.getExpectedTwilioSignature(TOKEN, URL_CALLED, INBOUND));
  assert.equal(twilio.validateRequest(TOKEN, ours, URL_CALLED, INBOUND), true);
});

Deno.test("altered by one character anywhere, the request is refused (as the official helper does)", async () => {
  const signature = twilio.getExpectedTwilioSignature(TOKEN, URL_CALLED, INBOUND);
  const flip = (s: string, i = s.length - 1) =>
    s.slice(0, i) + (s[i] === "a" ? "b" : "a") + s.slice(i + 1);
  const altered: [string, string, Record<string, string>, string][] = [
    ["signature", URL_CALLED, INBOUND, flip(signature, 3)],
    ["url", flip(URL_CALLED), INBOUND, signature],
    ["body", URL_CALLED, { ...INBOUND, Body: flip(INBOUND.Body, 0) }, signature],
    ["field name", URL_CALLED, {
      ...Object.fromEntries(
        Object.entries(INBOUND).map(([k, v]) => [k === "WaId" ? "WaID" : k, v]),
      ),
    }, signature],
    ["added field", URL_CALLED, { ...INBOUND, X: "1" }, signature],
    [
      "token",
      URL_CALLED,
      INBOUND,
      twilio.getExpectedTwilioSignature(flip(TOKEN), URL_CALLED, INBOUND),
    ],
  ];
  for (const [what, url, params, sig] of altered) {
    assert.equal(twilio.validateRequest(TOKEN, sig, url, params), false, `official: ${what}`);
    assert.equal(await verifyTwilioSignature(TOKEN, url, params, sig), false, what);
  }
});

Deno.test("a missing signature or token is refused without throwing", async () => {
  const signature = twilio.getExpectedTwilioSignature(TOKEN, URL_CALLED, INBOUND);
  assert.equal(await verifyTwilioSignature(TOKEN, URL_CALLED, INBOUND, null), false);
  assert.equal(await verifyTwilioSignature(TOKEN, URL_CALLED, INBOUND, ""), false);
  assert.equal(await verifyTwilioSignature("", URL_CALLED, INBOUND, signature), false);
  assert.equal(await verifyTwilioSignature(TOKEN, "not a url", INBOUND, signature), false);
});

Deno.test("a URL signed with or without the default port verifies either way, like the official helper", async () => {
  const withPort = "https://hurukuro.example:443/api/whatsapp/twilio";
  const without = "https://hurukuro.example/api/whatsapp/twilio";
  const signedWithPort = twilio.getExpectedTwilioSignature(TOKEN, withPort, INBOUND);
  const signedWithout = twilio.getExpectedTwilioSignature(TOKEN, without, INBOUND);
  assert.equal(await verifyTwilioSignature(TOKEN, without, INBOUND, signedWithPort), true);
  assert.equal(await verifyTwilioSignature(TOKEN, withPort, INBOUND, signedWithout), true);
  // A different port is a different URL.
  const other = twilio.getExpectedTwilioSignature(
    TOKEN,
    "https://hurukuro.example:8443/api/whatsapp/twilio",
    INBOUND,
  );
  assert.equal(await verifyTwilioSignature(TOKEN, without, INBOUND, other), false);
});

Deno.test("property: for 300 generated requests our signature equals the official one", async () => {
  let seed = 7;
  const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
  const pieces = [
    "a",
    "Z",
    "0",
    " ",
    "+",
    "&",
    "=",
    "%20",
    "é",
    "😀",
    "\n",
    "_",
    "~",
    "ß",
    "[",
    "",
  ];
  const text = (n: number) =>
    Array.from({ length: n }, () => pieces[Math.floor(random() * pieces.length)]).join("");
  for (let i = 0; i < 300; i++) {
    const params: Record<string, string | string[]> = {};
    const form = new URLSearchParams();
    const fields = Math.floor(random() * 12);
    for (let f = 0; f < fields; f++) {
      const key = text(1 + Math.floor(random() * 6)) || "k";
      const values = random() < 0.15
        ? [text(4), text(4), text(4)]
        : [text(Math.floor(random() * 30))];
      params[key] = values.length === 1 ? values[0] : values;
      form.delete(key);
      for (const v of values) form.append(key, v);
    }
    const url = `https://h${i}.example/hook?q=${encodeURIComponent(text(5))}`;
    const official = twilio.getExpectedTwilioSignature(TOKEN, url, params);
    assert.equal(
      await twilioSignature(TOKEN, url, form),
      official,
      JSON.stringify({ url, params }),
    );
    assert.equal(await twilioSignature(TOKEN, url, params), official);
  }
});

// ---------------------------------------------------------------------------------------------
// Parsing

const parse = (fields: Record<string, string>) =>
  parseTwilioWebhook(new URLSearchParams(fields), 1_700_000_000_000);

Deno.test("an inbound text is parsed with E.164 numbers, profile name and the receipt time", () => {
  const parsed = parse(INBOUND);
  assert.deepEqual(parsed, {
    messages: [{
      provider: "twilio",
      id: "SM0123456789abcdef0123456789abcdef",
      from: "+263771234567",
      to: "+14155238886",
      profileName: "Tendai Moyo",
      timestamp: 1_700_000_000_000,
      type: "text",
      text: "Mhoro! 1 + 1 = 2 & 50% off? 👋🏾",
    }],
    statuses: [],
    problems: [],
  });
});

Deno.test("media is classified by content type, with the body as caption", () => {
  const withMedia = (type: string, body = "") =>
    parse({
      ...INBOUND,
      NumMedia: "1",
      Body: body,
      MediaUrl0: "https://api.twilio.com/m/ME1",
      MediaContentType0: type,
    })
      .messages[0];
  const image = withMedia("image/jpeg", "my receipt");
  assert.ok(image.type === "image");
  assert.deepEqual(image.media, {
    source: "url",
    url: "https://api.twilio.com/m/ME1",
    mimeType: "image/jpeg",
  });
  assert.equal(image.caption, "my receipt");
  assert.equal(withMedia("audio/ogg").type, "audio");
  assert.equal(withMedia("application/pdf").type, "document");
  const video = withMedia("video/mp4");
  assert.ok(video.type === "unsupported");
  assert.equal(video.originalType, "video");
});

Deno.test("template button taps, list choices, locations and replies are recognised", () => {
  const button =
    parse({ ...INBOUND, Body: "Resume", ButtonText: "Resume", ButtonPayload: "RESUME" })
      .messages[0];
  assert.ok(button.type === "button_reply");
  assert.deepEqual([button.buttonId, button.title], ["RESUME", "Resume"]);

  const list = parse({ ...INBOUND, ListId: "pkg_500", ListTitle: "500 tokens" }).messages[0];
  assert.ok(list.type === "list_reply");
  assert.deepEqual([list.rowId, list.title], ["pkg_500", "500 tokens"]);

  const location = parse({
    ...INBOUND,
    Body: "",
    Latitude: "-17.8292",
    Longitude: "31.0522",
    Address: "Harare",
    Label: "Eastgate",
  }).messages[0];
  assertEastgate(location);

  const reply = parse({ ...INBOUND, OriginalRepliedMessageSid: "SMaaa" }).messages[0];
  assert.deepEqual(reply.context, { id: "SMaaa" });
});

Deno.test("status callbacks become status updates; undelivered counts as failed with its error", () => {
  const status = (fields: Record<string, string>) =>
    parse({
      MessageSid: "SMout",
      To: "whatsapp:+263771234567",
      From: "whatsapp:+14155238886",
      ...fields,
    });
  assert.deepEqual(status({ MessageStatus: "read", SmsStatus: "read" }).statuses, [{
    provider: "twilio",
    messageId: "SMout",
    status: "read",
    recipient: "+263771234567",
    timestamp: 1_700_000_000_000,
    errors: [],
  }]);
  assert.deepEqual(
    status({ MessageStatus: "undelivered", ErrorCode: "63016", ErrorMessage: "Outside window" })
      .statuses[0].errors,
    [{ code: 63016, title: "Outside window" }],
  );
  assert.equal(status({ MessageStatus: "failed" }).statuses[0].status, "failed");
  const queued = status({ MessageStatus: "queued" });
  assert.deepEqual([queued.statuses, queued.messages, queued.problems], [[], [], [
    'status "queued" ignored',
  ]]);
});

Deno.test("forms without a sid or sender, or with nothing in them, are reported, never thrown", () => {
  assert.deepEqual(parse({ Body: "hi" }).problems, ["message without MessageSid or From skipped"]);
  assert.deepEqual(parse({}).messages, []);
  const { Body: _, ...noBody } = INBOUND;
  const empty = parse({ ...noBody, MessageType: "sticker" }).messages[0];
  assert.ok(empty.type === "unsupported");
  assert.equal(empty.originalType, "sticker");
  assert.deepEqual(parseTwilioWebhook(parseForm(new Uint8Array([0xff, 0x25, 0x26]))).messages, []);
});

// ---------------------------------------------------------------------------------------------
// Outbound

Deno.test("menus become numbered text, since Twilio has no reply buttons", () => {
  assert.deepEqual(
    twilioMessageFields({
      type: "buttons",
      body: "Pay with?",
      buttons: [{ id: "eco", title: "EcoCash" }, { id: "one", title: "OneMoney" }],
    }),
    { Body: "Pay with?\n\n1. EcoCash\n2. OneMoney\n\nReply with the number of your choice." },
  );
  const list = twilioMessageFields({
    type: "list",
    body: "Menu",
    button: "Open",
    sections: [{ rows: [{ id: "chat", title: "Chat" }, { id: "essay", title: "Essay" }] }],
  });
  assert.match(list.Body, /^Menu\n\n1\. Chat\n2\. Essay\n\n/);
});

Deno.test("templates need a Content SID, given directly or mapped from the name", () => {
  const sid = "HX0123456789abcdef0123456789abcdef";
  assert.deepEqual(
    twilioMessageFields({
      type: "template",
      name: sid,
      language: "en",
      parameters: ["500", "740"],
    }),
    {
      ContentSid: sid,
      ContentVariables: '{"1":"500","2":"740"}',
    },
  );
  assert.deepEqual(
    twilioMessageFields({ type: "template", name: "payment_received", language: "en" }, {
      payment_received: sid,
    }),
    { ContentSid: sid },
  );
  assert.throws(
    () => twilioMessageFields({ type: "template", name: "payment_received", language: "en" }),
    (e: unknown) =>
      e instanceof WhatsAppError && e.kind === "invalid_message" && /contentSids/.test(e.message),
  );
});

Deno.test("a text over 1,600 characters or an empty one is refused, to be split first", () => {
  for (const text of ["x".repeat(1601), " "]) {
    assert.throws(
      () => twilioMessageFields({ type: "text", text }),
      (e: unknown) => e instanceof WhatsAppError && e.kind === "invalid_message",
    );
  }
  assert.deepEqual(twilioMessageFields({ type: "text", text: "x".repeat(1600) }), {
    Body: "x".repeat(1600),
  });
});

Deno.test("Twilio's errors map to kinds: rate limits, closed window, bad credentials, outages", () => {
  const limited = twilioApiError(429, { code: 20429, message: "Too Many Requests", status: 429 });
  assert.deepEqual([limited.kind, limited.retryAfterMs, limited.retryable], [
    "rate_limited",
    1_000,
    true,
  ]);
  assert.equal(twilioApiError(400, { code: 63018 }).kind, "rate_limited");
  assert.equal(twilioApiError(429, {}, new Headers({ "retry-after": "3" })).retryAfterMs, 3_000);
  assert.equal(twilioApiError(400, { code: 63016 }).kind, "outside_window");
  assert.equal(twilioApiError(401, { code: 20003, message: "Authenticate" }).kind, "unauthorized");
  assert.equal(twilioApiError(503, undefined).kind, "server");
  const rejected = twilioApiError(400, { code: 21211, message: "Invalid 'To' Phone Number" });
  assert.deepEqual([rejected.kind, rejected.code, rejected.retryable], ["rejected", 21211, false]);
  assert.match(rejected.message, /Invalid 'To' Phone Number \(21211\)/);
});

// ---------------------------------------------------------------------------------------------
// The provider's HTTP calls

const BASIC = "Basic " + btoa("AC123:secret");

function provider(fetchFn: typeof fetch, extra: Partial<TwilioOptions> = {}) {
  return new TwilioProvider({
    accountSid: "AC123",
    authToken: "secret",
    from: "+14155238886",
    apiUrl: "https://api.twilio.test",
    messagingUrl: "https://messaging.twilio.test",
    fetch: fetchFn,
    ...extra,
  });
}

Deno.test("send posts a form with Basic auth, whatsapp: numbers and the status callback", async () => {
  const { calls, fetch } = recordingFetch(() =>
    Response.json({ sid: "SMnew", status: "queued" }, { status: 201 })
  );
  const result = await provider(fetch, {
    statusCallback: "https://hurukuro.example/api/whatsapp/twilio/status",
  })
    .send("263771234567", { type: "text", text: "Hi there" });
  assert.deepEqual(result, { providerMessageId: "SMnew" });
  assert.equal(calls[0].url, "https://api.twilio.test/2010-04-01/Accounts/AC123/Messages.json");
  assert.equal(calls[0].authorization, BASIC);
  assert.deepEqual(Object.fromEntries(new URLSearchParams(calls[0].body)), {
    To: "whatsapp:+263771234567",
    From: "whatsapp:+14155238886",
    Body: "Hi there",
    StatusCallback: "https://hurukuro.example/api/whatsapp/twilio/status",
  });
});

Deno.test("markRead with typing sends Twilio's typing indicator; without, nothing", async () => {
  const { calls, fetch } = recordingFetch(() => Response.json({ success: true }));
  const twilioProvider = provider(fetch);
  await twilioProvider.markRead("SMin", { typing: false });
  assert.equal(calls.length, 0);
  await twilioProvider.markRead("SMin", { typing: true });
  assert.equal(calls[0].url, "https://messaging.twilio.test/v2/Indicators/Typing.json");
  assert.equal(calls[0].authorization, BASIC);
  assert.deepEqual(Object.fromEntries(new URLSearchParams(calls[0].body)), {
    messageId: "SMin",
    channel: "whatsapp",
  });
  await provider(fetch, { typingIndicator: false }).markRead("SMin", { typing: true });
  assert.equal(calls.length, 1);
});

Deno.test("media is fetched with Basic auth, and a redirect elsewhere gets no credentials", async () => {
  const { calls, fetch } = recordingFetch((call) =>
    call.url.startsWith("https://api.twilio.test")
      ? new Response(null, { status: 307, headers: { location: "https://cdn.twilio.test/abc" } })
      : new Response("JPEG", { headers: { "content-type": "image/jpeg; charset=binary" } })
  );
  const media = await provider(fetch).downloadMedia({
    source: "url",
    url: "https://api.twilio.test/2010-04-01/Accounts/AC123/Messages/MM1/Media/ME1",
  });
  assert.deepEqual(media, { bytes: new TextEncoder().encode("JPEG"), mimeType: "image/jpeg" });
  assert.deepEqual(calls.map((c) => [new URL(c.url).host, c.authorization]), [
    ["api.twilio.test", BASIC],
    ["cdn.twilio.test", null],
  ]);
});

Deno.test("media on an unknown origin is refused before our credentials go anywhere", async () => {
  const { calls, fetch } = recordingFetch(() => new Response("x"));
  await assert.rejects(
    provider(fetch).downloadMedia({ source: "url", url: "https://evil.example/steal" }),
    (e: unknown) => e instanceof WhatsAppError && e.kind === "invalid_message",
  );
  assert.equal(calls.length, 0);
  await provider(fetch, { mediaOrigins: ["https://media.twiliocdn.test"] })
    .downloadMedia({ source: "url", url: "https://media.twiliocdn.test/x" });
  assert.equal(calls[0].authorization, BASIC);
});

Deno.test("media over the size cap is refused", async () => {
  const { fetch } = recordingFetch(() =>
    new Response(new Uint8Array(2048), { headers: { "content-length": "2048" } })
  );
  await assert.rejects(
    provider(fetch).downloadMedia({ source: "url", url: "https://api.twilio.test/m" }, {
      maxBytes: 1024,
    }),
    (e: unknown) => e instanceof WhatsAppError && e.kind === "media_too_large",
  );
});

Deno.test("the provider verifies the raw form body against the public URL", async () => {
  const twilioProvider = provider(recordingFetch(() => new Response()).fetch, { authToken: TOKEN });
  const body = new TextEncoder().encode(new URLSearchParams(INBOUND).toString());
  const signature = twilio.getExpectedTwilioSignature(TOKEN, URL_CALLED, INBOUND);
  const request = (url: string) => ({
    url,
    headers: new Headers({ "X-Twilio-Signature": signature }),
    body,
  });
  assert.equal(await twilioProvider.verifySignature(request(URL_CALLED)), true);
  assert.equal(
    await twilioProvider.verifySignature(
      request("http://10.0.0.5:8000/api/whatsapp/twilio?tenant=zw&x=a%20b"),
    ),
    false,
  );
  assert.equal(
    twilioProvider.parseInbound({ ...request(URL_CALLED), receivedAt: 5 }).messages[0].timestamp,
    5,
  );
});
