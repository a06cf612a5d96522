/**
 * Meta's webhooks: signatures, the handshake and parsing. Signatures here are computed with
 * node:crypto, independently of the WebCrypto code under test.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { MetaCloudProvider } from "./meta.ts";
import { metaHandshake, parseMetaWebhook, verifyMetaSignature } from "./meta_webhook.ts";
import type { InboundMessage } from "./types.ts";
import { assertEastgate, EASTGATE } from "../../tests/fixtures/whatsapp.ts";

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
  assertEastgate(only(delivery([{ ...from, type: "location", location: EASTGATE }])));
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

Deno.test("the provider verifies and parses raw webhooks through its interface", async () => {
  const meta = new MetaCloudProvider({
    accessToken: "EAAtoken",
    appSecret: SECRET,
    phoneNumberId: "106540352242922",
    fetch: () => Promise.reject(new Error("no call is expected")),
  });
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
