/**
 * Meta Cloud API: signatures, the handshake, webhook parsing, payload limits, error mapping and
 * the provider's HTTP calls (against a recording `fetch`; lib/sandbox/whatsapp_graph_test.ts runs
 * it against the fake Graph API over real HTTP). Signatures here are computed with node:crypto,
 * independently of the WebCrypto code under test.
 */
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import {
  metaApiError,
  MetaCloudProvider,
  metaHandshake,
  metaMessagePayload,
  type MetaOptions,
  parseMetaWebhook,
  verifyMetaSignature,
} from "./meta.ts";
import { type InboundMessage, type OutboundMessage, WhatsAppError } from "./types.ts";

const SECRET = "app-secret-1234";
const sign = (body: string | Uint8Array, secret = SECRET) =>
  "sha256=" + createHmac("sha256", secret).update(body).digest("hex");

/** A delivery as Meta sends it: note the spacing, which the signature covers. */
const TEXT_DELIVERY = `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398",
"changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881",
"phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Tendai Moyo"},"wa_id":"263771234567"}],
"messages":[{"from":"263771234567","id":"wamid.HBgMMjYzNzcxMjM0NTY3FQIAEhgUM0E=","timestamp":"1749416383",
"type":"text","text":{"body":"Mhoro! Ndeipi? 👋🏾"}}]},"field":"messages"}]}]}`;

function delivery(messages: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    object: "whatsapp_business_account",
    entry: [{
      id: "102290129340398",
      changes: [{
        field: "messages",
        value: {
          messaging_product: "whatsapp",
          metadata: { display_phone_number: "15550783881", phone_number_id: "106540352242922" },
          contacts: [{ profile: { name: "Tendai" }, wa_id: "263771234567" }],
          messages,
          ...extra,
        },
      }],
    }],
  });
}

const from = { from: "263771234567", id: "wamid.X1", timestamp: "1749416383" };
/** When the fixtures' deliveries "arrived": their own times are seconds before. */
const RECEIVED_AT = 1_749_416_390_000;

function only(body: string): InboundMessage {
  const parsed = parseMetaWebhook(body, RECEIVED_AT);
  assert.equal(parsed.messages.length, 1, JSON.stringify(parsed));
  return parsed.messages[0];
}

// ---------------------------------------------------------------------------------------------
// Signature and handshake

Deno.test("a signature Meta computed over the raw body is accepted", async () => {
  const bytes = new TextEncoder().encode(TEXT_DELIVERY);
  assert.equal(await verifyMetaSignature(SECRET, bytes, sign(bytes)), true);
  assert.equal(await verifyMetaSignature(SECRET, TEXT_DELIVERY, sign(TEXT_DELIVERY)), true);
});

Deno.test("the signature covers exact bytes: re-serialised JSON is refused", async () => {
  const reserialised = JSON.stringify(JSON.parse(TEXT_DELIVERY));
  assert.notEqual(reserialised, TEXT_DELIVERY);
  assert.equal(await verifyMetaSignature(SECRET, reserialised, sign(TEXT_DELIVERY)), false);
});

Deno.test("a body altered by one byte, or signed with another secret, is refused", async () => {
  const bytes = new TextEncoder().encode(TEXT_DELIVERY);
  const altered = bytes.slice();
  altered[100] ^= 1;
  assert.equal(await verifyMetaSignature(SECRET, altered, sign(bytes)), false);
  assert.equal(await verifyMetaSignature(SECRET, bytes, sign(bytes, "other-secret")), false);
});

Deno.test("missing, malformed or truncated signature headers are refused without throwing", async () => {
  const good = sign(TEXT_DELIVERY);
  for (
    const header of [
      null,
      undefined,
      "",
      good.slice("sha256=".length),
      "sha1=" + good.slice(7),
      good.slice(0, -2),
      good + "00",
      "sha256=" + "zz".repeat(32),
    ]
  ) {
    assert.equal(await verifyMetaSignature(SECRET, TEXT_DELIVERY, header), false, String(header));
  }
  assert.equal(await verifyMetaSignature("", TEXT_DELIVERY, good), false);
});

Deno.test("hex case and surrounding spaces in the signature header do not matter", async () => {
  const good = sign(TEXT_DELIVERY);
  const upper = "SHA256=" + good.slice(7).toUpperCase();
  assert.equal(await verifyMetaSignature(SECRET, TEXT_DELIVERY, ` ${upper} `), true);
});

Deno.test("the verification handshake echoes the challenge only for the right token", () => {
  const params = (token: string, mode = "subscribe") =>
    new URLSearchParams({
      "hub.mode": mode,
      "hub.verify_token": token,
      "hub.challenge": "1158201444",
    });
  assert.equal(metaHandshake(params("s3cret"), "s3cret"), "1158201444");
  assert.equal(metaHandshake(params("wrong"), "s3cret"), null);
  assert.equal(metaHandshake(params("s3cret", "unsubscribe"), "s3cret"), null);
  assert.equal(metaHandshake(new URLSearchParams(), "s3cret"), null);
  assert.equal(metaHandshake(params(""), ""), null, "an unset token must not match an empty one");
});

// ---------------------------------------------------------------------------------------------
// Parsing

Deno.test("a text message is parsed with E.164 numbers, profile name, time and business ids", () => {
  assert.deepEqual(only(TEXT_DELIVERY), {
    provider: "meta",
    id: "wamid.HBgMMjYzNzcxMjM0NTY3FQIAEhgUM0E=",
    from: "+263771234567",
    to: "+15550783881",
    phoneNumberId: "106540352242922",
    profileName: "Tendai Moyo",
    timestamp: 1749416383000,
    type: "text",
    text: "Mhoro! Ndeipi? 👋🏾",
  });
});

Deno.test("reply-button and list taps carry our ids and the message they answer", () => {
  const button = only(delivery([{
    ...from,
    context: { from: "15550783881", id: "wamid.MENU" },
    type: "interactive",
    interactive: { type: "button_reply", button_reply: { id: "pay_ecocash", title: "EcoCash" } },
  }]));
  assert.equal(button.type, "button_reply");
  assert.ok(button.type === "button_reply");
  assert.equal(button.buttonId, "pay_ecocash");
  assert.equal(button.title, "EcoCash");
  assert.deepEqual(button.context, { id: "wamid.MENU", from: "+15550783881" });

  const list = only(delivery([{
    ...from,
    type: "interactive",
    interactive: {
      type: "list_reply",
      list_reply: { id: "pkg_500", title: "500 tokens", description: "$1.00" },
    },
  }]));
  assert.deepEqual(
    list.type === "list_reply" && [list.rowId, list.title, list.description],
    ["pkg_500", "500 tokens", "$1.00"],
  );
});

Deno.test("a template quick-reply button becomes a button reply with its payload as id", () => {
  const m = only(
    delivery([{ ...from, type: "button", button: { payload: "RESUME", text: "Resume" } }]),
  );
  assert.ok(m.type === "button_reply");
  assert.equal(m.buttonId, "RESUME");
  assert.equal(m.title, "Resume");
});

Deno.test("image, document and voice note carry a media id, mime type and their extras", () => {
  const image = only(delivery([{
    ...from,
    type: "image",
    image: { caption: "receipt", mime_type: "image/jpeg", sha256: "abc=", id: "1479537139650973" },
  }]));
  assert.ok(image.type === "image");
  assert.deepEqual(image.media, {
    source: "meta",
    id: "1479537139650973",
    mimeType: "image/jpeg",
    sha256: "abc=",
  });
  assert.equal(image.caption, "receipt");

  const doc = only(delivery([{
    ...from,
    type: "document",
    document: { filename: "id.pdf", mime_type: "application/pdf", sha256: "x", id: "77" },
  }]));
  assert.ok(doc.type === "document");
  assert.equal(doc.filename, "id.pdf");
  assert.equal(doc.media.source === "meta" && doc.media.id, "77");

  const audio = only(delivery([{
    ...from,
    type: "audio",
    audio: { mime_type: "audio/ogg; codecs=opus", id: "88", voice: true },
  }]));
  assert.ok(audio.type === "audio");
  assert.equal(audio.voice, true);
});

Deno.test("a shared location is parsed with coordinates, name and address", () => {
  const m = only(delivery([{
    ...from,
    type: "location",
    location: { latitude: -17.8292, longitude: 31.0522, name: "Eastgate", address: "Harare" },
  }]));
  assert.ok(m.type === "location");
  assert.deepEqual([m.latitude, m.longitude, m.name, m.address], [
    -17.8292,
    31.0522,
    "Eastgate",
    "Harare",
  ]);
});

Deno.test("types we do not handle become unsupported messages that can still be answered", () => {
  const parsed = parseMetaWebhook(delivery([
    { ...from, id: "wamid.V", type: "video", video: { id: "1", mime_type: "video/mp4" } },
    { ...from, id: "wamid.S", type: "sticker", sticker: { id: "2" } },
    {
      ...from,
      id: "wamid.U",
      type: "unsupported",
      errors: [{ code: 131051, title: "Message type unknown" }],
    },
    { ...from, id: "wamid.T", type: "text", text: {} },
    { ...from, id: "wamid.N", type: "interactive", interactive: { type: "nfm_reply" } },
  ]));
  assert.deepEqual(
    parsed.messages.map((m) => m.type === "unsupported" && [m.id, m.originalType, m.reason]),
    [
      ["wamid.V", "video", "message type video not handled"],
      ["wamid.S", "sticker", "message type sticker not handled"],
      ["wamid.U", "unsupported", "131051 Message type unknown"],
      ["wamid.T", "text", "text without body"],
      ["wamid.N", "interactive.nfm_reply", "interactive nfm_reply not handled"],
    ],
  );
  assert.ok(parsed.messages.every((m) => m.from === "+263771234567"));
});

Deno.test("delivery statuses are parsed, with the errors of a failed one", () => {
  const parsed = parseMetaWebhook(
    delivery([], {
      statuses: [
        {
          id: "wamid.OUT1",
          status: "delivered",
          timestamp: "1749416400",
          recipient_id: "263771234567",
        },
        {
          id: "wamid.OUT2",
          status: "failed",
          timestamp: "1749416401",
          recipient_id: "263771234567",
          errors: [{
            code: 131047,
            title: "Re-engagement message",
            message: "Re-engagement message",
            error_data: { details: "more than 24 hours have passed" },
          }],
        },
        { id: "wamid.OUT3", status: "deleted", timestamp: "1", recipient_id: "1" },
      ],
    }),
    RECEIVED_AT,
  );
  assert.deepEqual(parsed.statuses, [
    {
      provider: "meta",
      messageId: "wamid.OUT1",
      status: "delivered",
      recipient: "+263771234567",
      timestamp: 1749416400000,
      errors: [],
    },
    {
      provider: "meta",
      messageId: "wamid.OUT2",
      status: "failed",
      recipient: "+263771234567",
      timestamp: 1749416401000,
      errors: [{
        code: 131047,
        title: "Re-engagement message",
        message: "Re-engagement message",
        details: "more than 24 hours have passed",
      }],
    },
  ]);
  assert.deepEqual(parsed.problems, ['status "deleted" ignored']);
});

Deno.test("a time that is no date, or far from the receive time, becomes the receive time and a problem", () => {
  const times = ["-99999999999999999", "0", "1e400", "abc", "99999999999999999", "1749416383"];
  const parsed = parseMetaWebhook(
    delivery(
      times.map((timestamp, i) => ({
        ...from,
        id: `wamid.T${i}`,
        timestamp,
        type: "text",
        text: { body: "x" },
      })),
    ),
    RECEIVED_AT,
  );
  assert.deepEqual(parsed.messages.map((m) => m.timestamp), [
    ...times.slice(0, -1).map(() => RECEIVED_AT),
    1749416383000,
  ]);
  assert.equal(parsed.problems.length, 5);
  assert.match(parsed.problems[0], /wamid.T0: timestamp "-99999999999999999" is out of range/);
});

Deno.test("a batched delivery yields every message of every entry and change", () => {
  const one = JSON.parse(delivery([{ ...from, id: "wamid.A", type: "text", text: { body: "a" } }]));
  const two = JSON.parse(delivery([{ ...from, id: "wamid.B", type: "text", text: { body: "b" } }]));
  one.entry.push(two.entry[0]);
  one.entry[0].changes.push(two.entry[0].changes[0]);
  assert.deepEqual(parseMetaWebhook(JSON.stringify(one)).messages.map((m) => m.id), [
    "wamid.A",
    "wamid.B",
    "wamid.B",
  ]);
});

Deno.test("malformed bodies yield no messages and say why, never throwing", () => {
  const cases: [unknown, string][] = [
    ["{not json", "body is not JSON"],
    ["[1,2]", "body is not a JSON object"],
    ['{"object":"page","entry":[]}', 'unexpected object "page"'],
    ['{"object":"whatsapp_business_account"}', "no entry array"],
    [new Uint8Array([0xff, 0xfe, 0x00]), "body is not JSON"],
    [
      '{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"account_update","value":{}}]}]}',
      'ignored field "account_update"',
    ],
    [delivery([{ type: "text", text: { body: "no id" } }]), "message without id or sender skipped"],
    [
      delivery([], { errors: [{ code: 131000, title: "Something went wrong" }] }),
      "Meta reported error 131000 Something went wrong",
    ],
  ];
  for (const [body, problem] of cases) {
    const parsed = parseMetaWebhook(body);
    assert.deepEqual(parsed.messages, [], String(body));
    assert.ok(parsed.problems.includes(problem), `${problem} not in ${parsed.problems}`);
  }
});

Deno.test("property: 2,000 randomly mutated deliveries never make the parser throw", () => {
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const junk = [null, 0, -1, "", "x", [], {}, true, 1e308, [null], { id: 1 }, "263"];
  const base = JSON.parse(delivery([
    { ...from, type: "text", text: { body: "hi" }, context: { id: "c" } },
    {
      ...from,
      type: "interactive",
      interactive: { type: "list_reply", list_reply: { id: "r", title: "t" } },
    },
    { ...from, type: "image", image: { id: "1", mime_type: "image/png" } },
    { ...from, type: "location", location: { latitude: 1, longitude: 2 } },
  ], { statuses: [{ id: "s", status: "read", errors: [{ code: 1 }] }] }));
  function mutate(node: unknown): unknown {
    if (random() < 0.08) return junk[Math.floor(random() * junk.length)];
    if (Array.isArray(node)) return node.map(mutate);
    if (node && typeof node === "object") {
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, mutate(v)]));
    }
    return node;
  }
  for (let i = 0; i < 2_000; i++) {
    const parsed = parseMetaWebhook(JSON.stringify(mutate(base)));
    for (const m of parsed.messages) {
      assert.equal(typeof m.id, "string");
      assert.match(m.from, /^\+\d+$/);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Outbound payloads

function invalidMessage(fn: () => unknown, pattern: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof WhatsAppError);
    assert.equal(e.kind, "invalid_message");
    assert.equal(e.retryable, false);
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("a text payload has Meta's shape, digits-only recipient and no link preview", () => {
  assert.deepEqual(
    metaMessagePayload("+263 77 123 4567", { type: "text", text: "Hi", replyTo: "wamid.Q" }),
    {
      messaging_product: "whatsapp",
      recipient_type: "individual",
      to: "263771234567",
      context: { message_id: "wamid.Q" },
      type: "text",
      text: { body: "Hi", preview_url: false },
    },
  );
});

Deno.test("a text over 4,096 characters or an empty one is refused, to be split first", () => {
  invalidMessage(
    () => metaMessagePayload("+263771234567", { type: "text", text: "x".repeat(4097) }),
    /split it first/,
  );
  invalidMessage(() => metaMessagePayload("+263771234567", { type: "text", text: "  " }), /empty/);
  invalidMessage(
    () => metaMessagePayload("nobody", { type: "text", text: "hi" }),
    /not a phone number/,
  );
});

Deno.test("reply buttons have Meta's shape", () => {
  const payload = metaMessagePayload("263771234567", {
    type: "buttons",
    header: "Pay",
    body: "Choose a method",
    footer: "Prices in USD",
    buttons: [{ id: "ecocash", title: "EcoCash" }, { id: "onemoney", title: "OneMoney" }],
  });
  assert.deepEqual(payload.interactive, {
    type: "button",
    header: { type: "text", text: "Pay" },
    footer: { text: "Prices in USD" },
    body: { text: "Choose a method" },
    action: {
      buttons: [
        { type: "reply", reply: { id: "ecocash", title: "EcoCash" } },
        { type: "reply", reply: { id: "onemoney", title: "OneMoney" } },
      ],
    },
  });
});

Deno.test("more than 3 or no buttons, or duplicate ids or titles, are refused clearly", () => {
  const buttons = (titles: string[], ids = titles) =>
    ({
      type: "buttons",
      body: "b",
      buttons: titles.map((t, i) => ({ id: ids[i], title: t })),
    }) as OutboundMessage;
  invalidMessage(
    () => metaMessagePayload("1234567", buttons(["a", "b", "c", "d"])),
    /4 given, Meta allows 1 to 3/,
  );
  invalidMessage(() => metaMessagePayload("1234567", buttons([])), /0 given/);
  invalidMessage(
    () => metaMessagePayload("1234567", buttons(["Yes", "yes"], ["1", "2"])),
    /titles .* unique/,
  );
  invalidMessage(
    () => metaMessagePayload("1234567", buttons(["a", "b"], ["x", "x"])),
    /ids must be unique/,
  );
  invalidMessage(
    () =>
      metaMessagePayload(
        "1234567",
        buttons(["Report a problem today", "Report a problem tomorrow"], ["a", "b"]),
      ),
    /after shortening/,
  );
  invalidMessage(
    () => metaMessagePayload("1234567", buttons(["a"], ["x".repeat(257)])),
    /257 chars, over Meta's 256/,
  );
});

Deno.test("over-long button titles and bodies are shortened to Meta's limits", () => {
  const payload = metaMessagePayload("1234567", {
    type: "buttons",
    body: "b".repeat(2000),
    header: "h".repeat(100),
    buttons: [{ id: "r", title: "Report a problem with my payment" }],
  });
  const interactive = payload.interactive as {
    body: { text: string };
    header: { text: string };
    action: { buttons: { reply: { title: string } }[] };
  };
  assert.equal(interactive.action.buttons[0].reply.title, "Report a problem wi…");
  assert.equal(interactive.body.text.length, 1024);
  assert.ok(interactive.body.text.endsWith("…"));
  assert.equal(interactive.header.text.length, 60);
});

const rows = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: `r${i}`, title: `Row ${i}` }));

Deno.test("a list has Meta's shape with shortened row titles and descriptions", () => {
  const payload = metaMessagePayload("1234567", {
    type: "list",
    body: "Choose a package",
    button: "Packages and prices today",
    sections: [{
      title: "Tokens",
      rows: [{ id: "p500", title: "500 tokens for one US dollar", description: "d".repeat(80) }],
    }],
  });
  assert.deepEqual(payload.interactive, {
    type: "list",
    body: { text: "Choose a package" },
    action: {
      button: "Packages and prices…",
      sections: [{
        title: "Tokens",
        rows: [{
          id: "p500",
          title: "500 tokens for one US d…",
          description: "d".repeat(71) + "…",
        }],
      }],
    },
  });
});

Deno.test("lists over 10 rows or sections, empty, untitled or with repeated ids are refused", () => {
  const list = (sections: { title?: string; rows: { id: string; title: string }[] }[]) =>
    ({ type: "list", body: "b", button: "Open", sections }) as OutboundMessage;
  invalidMessage(
    () => metaMessagePayload("1234567", list([{ rows: rows(11) }])),
    /11 rows, Meta allows 1 to 10/,
  );
  invalidMessage(
    () =>
      metaMessagePayload(
        "1234567",
        list([{ title: "a", rows: rows(6) }, { title: "b", rows: rows(5) }]),
      ),
    /11 rows/,
  );
  invalidMessage(() => metaMessagePayload("1234567", list([])), /0 sections/);
  invalidMessage(
    () =>
      metaMessagePayload(
        "1234567",
        list(Array.from({ length: 11 }, (_, i) => ({ title: `${i}`, rows: rows(1) }))),
      ),
    /11 sections/,
  );
  invalidMessage(
    () => metaMessagePayload("1234567", list([{ rows: rows(1) }, { rows: rows(1) }])),
    /need titles/,
  );
  invalidMessage(
    () =>
      metaMessagePayload(
        "1234567",
        list([{ title: "a", rows: rows(2) }, { title: "b", rows: rows(1) }]),
      ),
    /row ids must be unique/,
  );
  invalidMessage(
    () => metaMessagePayload("1234567", list([{ rows: [{ id: "x".repeat(201), title: "t" }] }])),
    /201 chars, over Meta's 200/,
  );
});

Deno.test("a template payload names the template, language and body parameters", () => {
  assert.deepEqual(
    metaMessagePayload("1234567", {
      type: "template",
      name: "payment_received",
      language: "en",
      parameters: ["500", "740"],
    }).template,
    {
      name: "payment_received",
      language: { code: "en" },
      components: [{
        type: "body",
        parameters: [{ type: "text", text: "500" }, { type: "text", text: "740" }],
      }],
    },
  );
});

// ---------------------------------------------------------------------------------------------
// Errors

Deno.test("rate limits map to retryable errors with hints, honouring Retry-After", () => {
  const throughput = metaApiError(429, {
    error: { code: 130429, message: "(#130429) Rate limit hit" },
  });
  assert.equal(throughput.kind, "rate_limited");
  assert.equal(throughput.retryAfterMs, 1_000);
  assert.equal(throughput.retryable, true);
  assert.equal(throughput.code, 130429);

  const told = metaApiError(429, { error: { code: 130429 } }, new Headers({ "retry-after": "7" }));
  assert.equal(told.retryAfterMs, 7_000);

  // Meta often answers rate limits with HTTP 400: the code decides.
  assert.equal(metaApiError(400, { error: { code: 130429 } }).kind, "rate_limited");
  assert.equal(metaApiError(400, { error: { code: 80007 } }).kind, "rate_limited");
  assert.equal(metaApiError(400, { error: { code: 131048 } }).retryAfterMs, 60_000);

  const pair = metaApiError(400, { error: { code: 131056 } });
  assert.equal(pair.kind, "pair_rate_limited");
  assert.equal(pair.retryAfterMs, 6_000);
  assert.equal(pair.retryable, true);
});

Deno.test("the closed 24-hour window, bad tokens and server failures map to their kinds", () => {
  const window = metaApiError(400, {
    error: { code: 131047, message: "Re-engagement message", error_data: { details: "24 hours" } },
  });
  assert.equal(window.kind, "outside_window");
  assert.equal(window.retryable, false);
  assert.equal(window.details, "24 hours");
  assert.match(window.message, /Re-engagement message \(24 hours\)/);

  assert.equal(metaApiError(401, { error: { code: 190 } }).kind, "unauthorized");
  assert.equal(metaApiError(400, { error: { code: 190 } }).kind, "unauthorized");
  assert.equal(metaApiError(401, undefined).retryable, false);

  const server = metaApiError(502, undefined);
  assert.equal(server.kind, "server");
  assert.equal(server.retryable, true);
  assert.equal(metaApiError(400, { error: { code: 131016 } }).kind, "server");

  const rejected = metaApiError(400, { error: { code: 100, message: "(#100) Invalid parameter" } });
  assert.equal(rejected.kind, "rejected");
  assert.equal(rejected.retryable, false);
});

// ---------------------------------------------------------------------------------------------
// The provider's HTTP calls

interface Call {
  method: string;
  url: string;
  authorization: string | null;
  body: string;
}

function recordingFetch(answer: (call: Call, n: number) => Response | Promise<Response>) {
  const calls: Call[] = [];
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    const call = {
      method: request.method,
      url: request.url,
      authorization: request.headers.get("authorization"),
      body: await request.text(),
    };
    calls.push(call);
    return answer(call, calls.length);
  }) as typeof fetch;
  return { calls, fetch: fetchFn };
}

function provider(fetchFn: typeof fetch, extra: Partial<MetaOptions> = {}) {
  return new MetaCloudProvider({
    accessToken: "EAAtoken",
    appSecret: SECRET,
    phoneNumberId: "106540352242922",
    graphUrl: "https://graph.test/",
    fetch: fetchFn,
    ...extra,
  });
}

Deno.test("send posts the payload with the bearer token and returns the wamid", async () => {
  const { calls, fetch } = recordingFetch(() =>
    Response.json({
      messaging_product: "whatsapp",
      contacts: [{ input: "263771234567", wa_id: "263771234567" }],
      messages: [{ id: "wamid.OUT" }],
    })
  );
  const result = await provider(fetch, { apiVersion: "21.0" }).send("+263771234567", {
    type: "text",
    text: "Hi",
  });
  assert.deepEqual(result, { providerMessageId: "wamid.OUT" });
  assert.equal(calls.length, 1);
  assert.equal(calls[0].method, "POST");
  assert.equal(calls[0].url, "https://graph.test/v21.0/106540352242922/messages");
  assert.equal(calls[0].authorization, "Bearer EAAtoken");
  assert.equal(JSON.parse(calls[0].body).text.body, "Hi");
});

Deno.test("an invalid menu is refused before any request is made", async () => {
  const { calls, fetch } = recordingFetch(() => Response.json({}));
  await assert.rejects(
    provider(fetch).send("+263771234567", {
      type: "buttons",
      body: "b",
      buttons: rows(4),
    }),
    (e: unknown) => e instanceof WhatsAppError && e.kind === "invalid_message",
  );
  assert.equal(calls.length, 0);
});

Deno.test("send turns Meta's error answers into WhatsAppErrors", async () => {
  const { fetch } = recordingFetch(() =>
    Response.json({ error: { code: 130429, message: "(#130429) Rate limit hit" } }, {
      status: 429,
      headers: { "retry-after": "2" },
    })
  );
  await assert.rejects(
    provider(fetch).send("+263771234567", { type: "text", text: "Hi" }),
    (e: unknown) =>
      e instanceof WhatsAppError && e.kind === "rate_limited" && e.retryAfterMs === 2_000,
  );
  const empty = recordingFetch(() => Response.json({ messaging_product: "whatsapp" }));
  await assert.rejects(
    provider(empty.fetch).send("+263771234567", { type: "text", text: "Hi" }),
    (e: unknown) => e instanceof WhatsAppError && e.kind === "bad_response",
  );
});

Deno.test("a refused connection or a timeout is a retryable network error", async () => {
  const refused = (() => Promise.reject(new TypeError("connection refused"))) as typeof fetch;
  await assert.rejects(
    provider(refused).send("+263771234567", { type: "text", text: "Hi" }),
    (e: unknown) => e instanceof WhatsAppError && e.kind === "network" && e.retryable,
  );
  const hanging = ((_: unknown, init?: RequestInit) =>
    new Promise((_resolve, reject) => {
      init?.signal?.addEventListener("abort", () => reject(init.signal?.reason));
    })) as typeof fetch;
  await assert.rejects(
    provider(hanging, { timeoutMs: 30 }).send("+263771234567", { type: "text", text: "Hi" }),
    (e: unknown) =>
      e instanceof WhatsAppError && e.kind === "network" && /within 30 ms/.test(e.message),
  );
});

Deno.test("markRead sends the read receipt, with the typing indicator only when asked", async () => {
  const { calls, fetch } = recordingFetch(() => Response.json({ success: true }));
  const meta = provider(fetch);
  await meta.markRead("wamid.IN", { typing: true });
  await meta.markRead("wamid.IN2", { typing: false });
  assert.deepEqual(calls.map((c) => JSON.parse(c.body)), [
    {
      messaging_product: "whatsapp",
      status: "read",
      message_id: "wamid.IN",
      typing_indicator: { type: "text" },
    },
    { messaging_product: "whatsapp", status: "read", message_id: "wamid.IN2" },
  ]);
});

Deno.test("downloadMedia resolves the id to a URL and fetches it with the same bearer", async () => {
  const bytes = new TextEncoder().encode("%PDF-1.7 fake");
  const sha = createHash("sha256").update(bytes).digest("hex");
  const { calls, fetch } = recordingFetch((call) =>
    call.url.endsWith("/v23.0/555")
      ? Response.json({
        url: "https://lookaside.test/m/555?x=1",
        mime_type: "application/pdf",
        sha256: sha,
        file_size: bytes.length,
        id: "555",
      })
      : new Response(bytes, { headers: { "content-type": "application/octet-stream" } })
  );
  const media = await provider(fetch).downloadMedia({ source: "meta", id: "555" });
  assert.deepEqual(media, { bytes, mimeType: "application/pdf" });
  assert.deepEqual(calls.map((c) => [c.url, c.authorization]), [
    ["https://graph.test/v23.0/555", "Bearer EAAtoken"],
    ["https://lookaside.test/m/555?x=1", "Bearer EAAtoken"],
  ]);
});

Deno.test("media over the cap is refused from its declared size, before downloading", async () => {
  const { calls, fetch } = recordingFetch(() =>
    Response.json({
      url: "https://lookaside.test/m",
      mime_type: "image/jpeg",
      file_size: 6_000_000,
    })
  );
  await assert.rejects(
    provider(fetch).downloadMedia({ source: "meta", id: "1" }, { maxBytes: 5_000_000 }),
    (e: unknown) => e instanceof WhatsAppError && e.kind === "media_too_large",
  );
  assert.equal(calls.length, 1);
});

Deno.test("media that turns out larger than the cap while streaming is refused", async () => {
  const { fetch } = recordingFetch((call) => {
    if (call.url.includes("graph.test")) {
      return Response.json({ url: "https://lookaside.test/m", mime_type: "image/png" });
    }
    // 12 KiB with no Content-Length: only counting while reading can catch it.
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 12) controller.enqueue(new Uint8Array(1024));
        else controller.close();
      },
    });
    return new Response(stream);
  });
  await assert.rejects(
    provider(fetch, { maxMediaBytes: 10_000 }).downloadMedia({ source: "meta", id: "1" }),
    (e: unknown) => e instanceof WhatsAppError && e.kind === "media_too_large",
  );
});

Deno.test("media whose bytes do not match Meta's SHA-256 is refused", async () => {
  const { fetch } = recordingFetch((call) =>
    call.url.includes("graph.test")
      ? Response.json({
        url: "https://lookaside.test/m",
        mime_type: "image/png",
        sha256: "00".repeat(32),
      })
      : new Response("not the file")
  );
  await assert.rejects(
    provider(fetch).downloadMedia({ source: "meta", id: "1" }),
    (e: unknown) =>
      e instanceof WhatsAppError && e.kind === "bad_response" && /SHA-256/.test(e.message),
  );
  const base64 = recordingFetch((call) =>
    call.url.includes("graph.test")
      ? Response.json({
        url: "https://lookaside.test/m",
        sha256: createHash("sha256").update("the file").digest("base64"),
      })
      : new Response("the file")
  );
  const media = await provider(base64.fetch).downloadMedia({
    source: "meta",
    id: "1",
    mimeType: "image/webp",
  });
  assert.equal(media.mimeType, "image/webp");
});

Deno.test("the provider verifies and parses raw webhooks through its interface", async () => {
  const meta = provider(recordingFetch(() => Response.json({})).fetch);
  const body = new TextEncoder().encode(TEXT_DELIVERY);
  const request = (signature: string) => ({
    url: "https://hurukuro.test/api/whatsapp/webhook",
    headers: new Headers({ "X-Hub-Signature-256": signature }),
    body,
  });
  assert.equal(await meta.verifySignature(request(sign(body))), true);
  assert.equal(await meta.verifySignature(request(sign(body, "wrong"))), false);
  assert.equal(
    meta.parseInbound(request("")).messages[0].id,
    "wamid.HBgMMjYzNzcxMjM0NTY3FQIAEhgUM0E=",
  );
  assert.equal(
    meta.handshake(
      new URLSearchParams({
        "hub.mode": "subscribe",
        "hub.verify_token": "",
        "hub.challenge": "c",
      }),
    ),
    null,
  );
});
