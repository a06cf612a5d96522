/**
 * The fake Graph API behaves like Meta's (shapes, limits, errors, media), our Meta provider works
 * against it over real HTTP, and webhooks signed by whatsapp_sign.ts pass our verification.
 */
import assert from "node:assert/strict";
import { FakeGraphApi, startFakeGraphApi } from "./whatsapp_graph.ts";
import {
  metaButtonReply,
  metaImage,
  metaListReply,
  metaStatus,
  metaText,
  metaWebhook,
  signedMetaWebhook,
  TEST_PHONE_NUMBER_ID,
} from "./whatsapp_sign.ts";
import { MetaCloudProvider, metaMessagePayload } from "../whatsapp/meta.ts";
import type { OutboundMessage } from "../whatsapp/types.ts";
import { assertScriptedFailures, isKind } from "../../tests/whatsapp_errors.ts";

const USER = "+263771234567";

function providerFor(graph: FakeGraphApi, accessToken = graph.accessToken) {
  return new MetaCloudProvider({
    graphUrl: graph.url,
    apiVersion: "v23.0",
    accessToken,
    appSecret: "app-secret",
    phoneNumberId: TEST_PHONE_NUMBER_ID,
    timeoutMs: 5_000,
  });
}

/** A raw POST to the fake, bypassing our payload builder. */
async function post(graph: FakeGraphApi, payload: unknown, token = graph.accessToken) {
  const response = await fetch(`${graph.url}/v23.0/${TEST_PHONE_NUMBER_ID}/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: typeof payload === "string" ? payload : JSON.stringify(payload),
  });
  return { status: response.status, body: await response.json() };
}

const interactive = (type: string, action: unknown) => ({
  messaging_product: "whatsapp",
  to: "263771234567",
  type: "interactive",
  interactive: { type, body: { text: "Choose" }, action },
});
const reply = (id: string, title: string) => ({ type: "reply", reply: { id, title } });

Deno.test("a text sent through the provider is recorded and answered like Meta", async () => {
  await using graph = await startFakeGraphApi();
  const result = await providerFor(graph).send(USER, { type: "text", text: "Mhoro!" });

  assert.match(result.providerMessageId, /^wamid\./);
  assert.equal(graph.messages.length, 1);
  const [sent] = graph.messages;
  assert.equal(sent.id, result.providerMessageId);
  assert.equal(sent.phoneNumberId, TEST_PHONE_NUMBER_ID);
  assert.equal(sent.to, "263771234567");
  assert.equal(sent.type, "text");
  assert.equal(sent.text, "Mhoro!");
  assert.deepEqual(sent.payload.text, { body: "Mhoro!", preview_url: false });
});

Deno.test("the send answer has Meta's shape: messaging_product, contacts and messages", async () => {
  await using graph = await startFakeGraphApi();
  const { status, body } = await post(graph, {
    messaging_product: "whatsapp",
    to: "+263771234567",
    type: "text",
    text: { body: "hi" },
  });
  assert.equal(status, 200);
  assert.equal(body.messaging_product, "whatsapp");
  assert.deepEqual(body.contacts, [{ input: "+263771234567", wa_id: "263771234567" }]);
  assert.match(body.messages[0].id, /^wamid\.[\w-]+$/);
});

Deno.test("a wrong or missing bearer token gets Meta's OAuth error 190", async () => {
  await using graph = await startFakeGraphApi();
  const { status, body } = await post(graph, { messaging_product: "whatsapp" }, "wrong");
  assert.equal(status, 401);
  assert.equal(body.error.code, 190);
  assert.equal(body.error.type, "OAuthException");
  assert.equal(typeof body.error.fbtrace_id, "string");
  await assert.rejects(
    providerFor(graph, "stale").send(USER, { type: "text", text: "x" }),
    isKind("unauthorized"),
  );
  assert.equal(graph.messages.length, 0);
});

Deno.test("payloads over Meta's limits get error 100 with the reason, and are not recorded", async () => {
  await using graph = await startFakeGraphApi();
  const cases: [unknown, RegExp][] = [
    [
      interactive("button", {
        buttons: [reply("a", "A"), reply("b", "B"), reply("c", "C"), reply("d", "D")],
      }),
      /1 to 3 buttons, got 4/,
    ],
    [interactive("button", { buttons: [reply("a", "x".repeat(21))] }), /maximum is 20/],
    [interactive("button", { buttons: [reply("a", "Same"), reply("b", "Same")] }), /unique/],
    [
      interactive("list", {
        button: "Open",
        sections: [{
          rows: Array.from({ length: 11 }, (_, i) => ({ id: `r${i}`, title: "t" })),
        }],
      }),
      /at most 10 rows, got 11/,
    ],
    [
      interactive("list", {
        button: "Open",
        sections: [{ rows: [{ id: "a", title: "t" }] }, { rows: [{ id: "b", title: "t" }] }],
      }),
      /section title is required/,
    ],
    [
      interactive("list", {
        button: "Open",
        sections: [{ rows: [{ id: "a", title: "t", description: "d".repeat(73) }] }],
      }),
      /description is 73 characters/,
    ],
    [
      interactive("list", {
        button: "A very long list button",
        sections: [{ rows: [{ id: "a", title: "t" }] }],
      }),
      /action.button is 23/,
    ],
    [
      {
        messaging_product: "whatsapp",
        to: "263771234567",
        type: "text",
        text: { body: "x".repeat(4097) },
      },
      /maximum is 4096/,
    ],
    [{ to: "263771234567", type: "text", text: { body: "x" } }, /messaging_product/],
    [{ messaging_product: "whatsapp", to: "263771234567", type: "poll", poll: {} }, /Unsupported/],
    [
      { messaging_product: "whatsapp", to: "abc", type: "text", text: { body: "x" } },
      /to is required/,
    ],
    ["{not json", /not valid JSON/],
  ];
  for (const [payload, details] of cases) {
    const { status, body } = await post(graph, payload);
    assert.equal(status, 400, JSON.stringify(payload).slice(0, 80));
    assert.equal(body.error.code, 100);
    assert.match(body.error.error_data?.details ?? "", details);
  }
  assert.equal(graph.messages.length, 0);
  assert.equal(graph.rejections.length, cases.length);
});

Deno.test("property: every menu our payload builder accepts, the fake (Meta's rules) accepts too", async () => {
  await using graph = await startFakeGraphApi();
  let seed = 99;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const words = ["Buy", "tokens", "💰", "Chat", "Essay", "Report", "a", "problem", "EcoCash", "é"];
  const text = (max: number) =>
    Array.from(
      { length: 1 + Math.floor(random() * max) },
      () => words[Math.floor(random() * words.length)],
    )
      .join(" ");
  for (let i = 0; i < 60; i++) {
    const message: OutboundMessage = random() < 0.5
      ? {
        type: "buttons",
        body: text(400),
        ...(random() < 0.5 ? { header: text(20), footer: text(20) } : {}),
        buttons: Array.from({ length: 1 + Math.floor(random() * 3) }, (_, b) => ({
          id: `b${b}`,
          title: `${b + 1} ${text(6)}`,
        })),
      }
      : {
        type: "list",
        body: text(400),
        button: text(8),
        sections: Array.from({ length: 1 + Math.floor(random() * 3) }, (_, s) => ({
          title: text(8),
          rows: Array.from({ length: 1 + Math.floor(random() * 3) }, (_, r) => ({
            id: `s${s}r${r}`,
            title: text(8),
            ...(random() < 0.5 ? { description: text(30) } : {}),
          })),
        })),
      };
    const { status, body } = await post(graph, metaMessagePayload(USER, message));
    assert.equal(status, 200, `case ${i}: ${JSON.stringify(body)}`);
  }
  assert.equal(graph.messages.length, 60);
});

Deno.test("failNext makes the next sends fail with 429/130429 and a Retry-After, then recover", async () => {
  await using graph = await startFakeGraphApi();
  const meta = providerFor(graph);
  graph.failNext(2, "rate_limit", { retryAfterSeconds: 3 });

  // A mark-read does not use up failures meant for sends.
  await meta.markRead("wamid.IN", { typing: true });
  for (let i = 0; i < 2; i++) {
    await assert.rejects(
      meta.send(USER, { type: "text", text: "hi" }),
      isKind(
        "rate_limited",
        (e) => e.status === 429 && e.code === 130429 && e.retryAfterMs === 3_000,
      ),
    );
  }
  await meta.send(USER, { type: "text", text: "hi" });
  assert.equal(graph.messages.length, 1);
  assert.deepEqual(graph.reads.map((r) => [r.messageId, r.typing]), [["wamid.IN", true]]);
});

Deno.test("failNext covers server errors, pair rate limits, the closed window and bad tokens", async () => {
  await using graph = await startFakeGraphApi();
  const meta = providerFor(graph);
  await assertScriptedFailures(graph, meta, USER, [
    ["server_error", "server"],
    ["pair_rate_limit", "pair_rate_limited"],
    ["outside_window", "outside_window"],
    ["unauthorized", "unauthorized"],
  ]);
  graph.failNext(1, "server_error", { scope: "all" });
  await assert.rejects(meta.markRead("wamid.IN", { typing: false }), isKind("server"));
  assert.equal(graph.messages.length, 0);
});

Deno.test("with the 24-hour window closed only a template gets through", async () => {
  await using graph = await startFakeGraphApi();
  const meta = providerFor(graph);
  graph.closeWindow("263771234567");
  await assert.rejects(
    meta.send(USER, { type: "text", text: "Payment received" }),
    isKind("outside_window", (e) => e.code === 131047),
  );
  await meta.send(USER, {
    type: "template",
    name: "payment_received",
    language: "en",
    parameters: ["500"],
  });
  graph.openWindow(USER);
  await meta.send(USER, { type: "text", text: "Welcome back" });
  assert.deepEqual(graph.messages.map((m) => [m.type, m.text]), [
    ["template", "payment_received"],
    ["text", "Welcome back"],
  ]);
});

Deno.test("media is served by id then URL with the bearer, and the provider checks its hash", async () => {
  await using graph = await startFakeGraphApi();
  const bytes = crypto.getRandomValues(new Uint8Array(50_000));
  const id = await graph.addMedia(bytes, "image/png");

  const media = await providerFor(graph).downloadMedia({ source: "meta", id });
  assert.deepEqual(media, { bytes, mimeType: "image/png" });

  await assert.rejects(
    providerFor(graph).downloadMedia({ source: "meta", id }, { maxBytes: 10_000 }),
    isKind("media_too_large"),
  );
  await assert.rejects(
    providerFor(graph, "wrong").downloadMedia({ source: "meta", id }),
    isKind("unauthorized"),
  );
  await assert.rejects(
    providerFor(graph).downloadMedia({ source: "meta", id: "404404" }),
    isKind("rejected", (e) => e.code === 100),
  );
});

Deno.test("a media URL needs the bearer and expires", async () => {
  await using graph = await startFakeGraphApi({ mediaUrlTtlMs: 50 });
  const id = await graph.addMedia(new Uint8Array([1, 2, 3]), "audio/ogg");
  const auth = { authorization: `Bearer ${graph.accessToken}` };
  const info = await (await fetch(`${graph.url}/v23.0/${id}`, { headers: auth })).json();
  assert.deepEqual(
    [info.mime_type, info.file_size, info.id, info.messaging_product],
    ["audio/ogg", 3, id, "whatsapp"],
  );
  assert.match(info.sha256, /^[0-9a-f]{64}$/);

  const anonymous = await fetch(info.url);
  assert.equal(anonymous.status, 401);
  await anonymous.body?.cancel();
  const fresh = await fetch(info.url, { headers: auth });
  assert.deepEqual(new Uint8Array(await fresh.arrayBuffer()), new Uint8Array([1, 2, 3]));
  await new Promise((r) => setTimeout(r, 80));
  const expired = await fetch(info.url, { headers: auth });
  assert.equal(expired.status, 404);
  await expired.body?.cancel();
});

Deno.test("waitForMessages resolves when enough messages to that user arrive, or says what came", async () => {
  await using graph = await startFakeGraphApi();
  const meta = providerFor(graph);
  const waiting = graph.waitForMessages(2, { to: USER, timeoutMs: 2_000 });
  await meta.send("+263779999999", { type: "text", text: "someone else" });
  await meta.send(USER, { type: "text", text: "one" });
  await meta.send(USER, { type: "text", text: "two" });
  assert.deepEqual((await waiting).map((m) => m.text), ["one", "two"]);

  await assert.rejects(
    graph.waitForMessages(5, { timeoutMs: 30 }),
    /waited for 5 message\(s\), got 3: \["someone else","one","two"\]/,
  );
});

Deno.test("an unknown phone-number id, path or oversized body gets Meta-shaped errors, never a crash", async () => {
  await using graph = await startFakeGraphApi({ phoneNumberIds: ["111"], maxBodyBytes: 1_000 });
  const meta = providerFor(graph);
  await assert.rejects(
    meta.send(USER, { type: "text", text: "x" }),
    isKind("rejected", (e) => e.code === 100),
  );
  const auth = { authorization: `Bearer ${graph.accessToken}` };
  const wrongPath = await fetch(`${graph.url}/nonsense`, { headers: auth });
  assert.equal(wrongPath.status, 400);
  assert.equal((await wrongPath.json()).error.code, 2500);
  const big = await fetch(`${graph.url}/v23.0/111/messages`, {
    method: "POST",
    headers: auth,
    body: "x".repeat(5_000),
  });
  assert.equal(big.status, 413);
  await big.body?.cancel();
  const listing = await (await fetch(`${graph.url}/_fake/messages`)).json();
  assert.deepEqual(listing.messages, []);
});

Deno.test("reset forgets messages and pending failures", async () => {
  await using graph = await startFakeGraphApi();
  const meta = providerFor(graph);
  await meta.send(USER, { type: "text", text: "x" });
  graph.failNext(3);
  graph.reset();
  assert.equal(graph.messages.length, 0);
  await meta.send(USER, { type: "text", text: "y" });
  assert.equal(graph.messages.length, 1);
});

// ---------------------------------------------------------------------------------------------
// whatsapp_sign.ts against our verification and parser

Deno.test("a webhook signed by the helper passes our check and parses into our types", async () => {
  const meta = new MetaCloudProvider({
    accessToken: "t",
    appSecret: "app-secret",
    phoneNumberId: TEST_PHONE_NUMBER_ID,
  });
  const payload = metaWebhook({
    messages: [
      metaText({ from: USER, name: "Tendai", text: "Mhoro", id: "wamid.T" }),
      metaButtonReply({ from: USER, buttonId: "chat", title: "Chat", context: { id: "wamid.M" } }),
      metaListReply({ from: USER, rowId: "pkg_500", title: "500 tokens", description: "$1" }),
      metaImage({ from: USER, mediaId: "123", caption: "receipt" }),
    ],
    statuses: [metaStatus({ messageId: "wamid.OUT", status: "failed", recipient: USER })],
  });
  const { body, headers } = signedMetaWebhook("app-secret", payload);
  const request = {
    url: "https://hurukuro.test/api/whatsapp/webhook",
    headers: new Headers(headers),
    body: new TextEncoder().encode(body),
  };
  assert.equal(await meta.verifySignature(request), true);

  const parsed = meta.parseInbound(request);
  assert.deepEqual(parsed.problems, []);
  assert.deepEqual(parsed.messages.map((m) => m.type), [
    "text",
    "button_reply",
    "list_reply",
    "image",
  ]);
  assert.ok(
    parsed.messages.every((m) => m.from === USER && m.phoneNumberId === TEST_PHONE_NUMBER_ID),
  );
  assert.equal(parsed.messages[0].profileName, "Tendai");
  assert.deepEqual(parsed.messages[1].context, { id: "wamid.M", from: "+15550783881" });
  assert.deepEqual(
    parsed.statuses.map((s) => [s.messageId, s.status, s.errors[0]?.code]),
    [["wamid.OUT", "failed", 131047]],
  );

  const tampered = { ...request, body: new TextEncoder().encode(body.replace("Mhoro", "Mhorø")) };
  assert.equal(await meta.verifySignature(tampered), false);
  const otherSecret = signedMetaWebhook("not-the-secret", payload);
  assert.equal(
    await meta.verifySignature({ ...request, headers: new Headers(otherSecret.headers) }),
    false,
  );
});
