/**
 * The simulator's deliveries are Meta's: signed with the app secret so that our own verification
 * (lib/whatsapp/meta_webhook.ts, another implementation) accepts them, and parsed by our Meta
 * parser as the text, button reply or list reply they stand for. A reply must be to a choice the
 * bot offered that number; hostile phone numbers are refused naming the field.
 */
import assert from "node:assert/strict";
import { AppError } from "../errors.ts";
import { metaMessagePayload } from "../whatsapp/meta_payload.ts";
import { parseMetaWebhook, verifyMetaSignature } from "../whatsapp/meta_webhook.ts";
import type { WebhookRequest } from "../whatsapp/inbound.ts";
import type { OutboundMessage } from "../whatsapp/types.ts";
import type { RecordedMessage } from "./whatsapp_graph.ts";
import {
  botItem,
  createWhatsAppSimulator,
  parseSimulatorPhone,
  SimulatorSendSchema,
} from "./whatsapp_simulator.ts";

const SECRET = "simulator-test-secret";
const PHONE = "+263771111111";

/** A message the bot "sent", recorded as the fake Graph API records it. */
function recorded(to: string, message: OutboundMessage, at = Date.now()): RecordedMessage {
  const payload = metaMessagePayload(to, message) as Record<string, unknown>;
  return {
    id: `wamid.bot${Math.random().toString(36).slice(2)}`,
    phoneNumberId: "100000000000001",
    to: to.replace(/^\+/, ""),
    type: String(payload.type),
    text: "text" in message ? message.text : "body" in message ? message.body : message.name,
    payload,
    receivedAt: at,
  };
}

function simulatorWith(messages: RecordedMessage[]) {
  const delivered: WebhookRequest[] = [];
  const simulator = createWhatsAppSimulator({
    sandbox: {
      graph: { messages, reads: [] },
      appSecret: SECRET,
      phoneNumberId: "100000000000001",
    },
    // Not used by `send`.
    sql: null as never,
    receive: async (request) => {
      delivered.push(request);
      const ok = await verifyMetaSignature(
        SECRET,
        request.body,
        request.headers.get("x-hub-signature-256"),
      );
      return { status: ok ? 200 : 401, body: "", contentType: "text/plain" };
    },
  });
  return { simulator, delivered };
}

Deno.test("a typed message is a Meta text webhook, signed so that our verification accepts it", async () => {
  const { simulator, delivered } = simulatorWith([]);
  const item = await simulator.send(PHONE, { type: "text", text: "hi" });
  assert.equal(item.webhookStatus, 200);
  assert.equal(item.text, "hi");
  const [request] = delivered;
  assert.equal(request.provider, "meta");
  assert.equal(request.pathAndQuery, "/api/whatsapp/webhook");
  // Signed over these exact bytes: one byte changed and the signature no longer holds.
  const tampered = new Uint8Array(request.body);
  tampered[tampered.length - 2] ^= 1;
  assert.equal(
    await verifyMetaSignature(SECRET, tampered, request.headers.get("x-hub-signature-256")),
    false,
  );
  const parsed = parseMetaWebhook(request.body);
  assert.deepEqual(parsed.problems, []);
  const [message] = parsed.messages;
  assert.equal(message.type, "text");
  assert.equal(message.from, PHONE);
  assert.equal(message.id, item.id);
  assert.equal(message.type === "text" && message.text, "hi");
});

Deno.test("a tapped button and a chosen list row are button_reply and list_reply to that message", async () => {
  const buttons = recorded(PHONE, {
    type: "buttons",
    body: "How would you like to pay?",
    buttons: [{ id: "buy:method:ecocash", title: "EcoCash" }, {
      id: "buy:method:onemoney",
      title: "OneMoney",
    }],
  });
  const list = recorded(PHONE, {
    type: "list",
    body: "Choose a package:",
    button: "Packages",
    sections: [{
      title: "Token packages",
      rows: [{ id: "buy:pkg:1", title: "5,000 tokens", description: "Starter: USD 1.00" }],
    }],
  });
  const { simulator, delivered } = simulatorWith([buttons, list]);

  const tapped = await simulator.send(PHONE, {
    type: "reply",
    replyTo: buttons.id,
    id: "buy:method:onemoney",
  });
  assert.equal(tapped.text, "OneMoney");
  const [button] = parseMetaWebhook(delivered[0].body).messages;
  assert.equal(button.type, "button_reply");
  assert.equal(button.type === "button_reply" && button.buttonId, "buy:method:onemoney");
  assert.equal(button.type === "button_reply" && button.title, "OneMoney");
  assert.equal(button.context?.id, buttons.id);

  await simulator.send(PHONE, { type: "reply", replyTo: list.id, id: "buy:pkg:1" });
  const [row] = parseMetaWebhook(delivered[1].body).messages;
  assert.equal(row.type, "list_reply");
  assert.equal(row.type === "list_reply" && row.rowId, "buy:pkg:1");
  assert.equal(row.type === "list_reply" && row.description, "Starter: USD 1.00");

  // Only what the bot offered, to this number.
  await assert.rejects(
    simulator.send(PHONE, { type: "reply", replyTo: buttons.id, id: "buy:method:cash" }),
    (e) => e instanceof AppError && e.details?.field === "id",
  );
  await assert.rejects(
    simulator.send("+263772222222", {
      type: "reply",
      replyTo: buttons.id,
      id: "buy:method:ecocash",
    }),
    (e) => e instanceof AppError && e.details?.field === "replyTo",
  );
  assert.equal(delivered.length, 2, "nothing delivered for a refused reply");
});

Deno.test("the bot's messages are shown with their buttons, list rows and templates", () => {
  const list = botItem(recorded(PHONE, {
    type: "list",
    body: "What would you like to do?",
    button: "Menu",
    sections: [{ title: "Hurukuro", rows: [{ id: "menu:chat", title: "Chat" }] }],
  }));
  assert.equal(list.kind, "list");
  assert.equal(list.list?.button, "Menu");
  assert.deepEqual(list.list?.sections[0].rows, [{ id: "menu:chat", title: "Chat" }]);
  const template = botItem(recorded(PHONE, {
    type: "template",
    name: "payment_received",
    language: "en",
    parameters: ["5,000", "5,240"],
  }));
  assert.equal(template.kind, "template");
  assert.match(template.text, /payment_received.*5,000 · 5,240/);
  const text = botItem(recorded(PHONE, { type: "text", text: "Pay at https://x.example/p" }));
  assert.deepEqual([text.kind, text.text], ["text", "Pay at https://x.example/p"]);
});

Deno.test("phone numbers: E.164 or a Zimbabwean local number; anything else refused naming phone", () => {
  assert.equal(parseSimulatorPhone("+263 77 111 1111"), "+263771111111");
  assert.equal(parseSimulatorPhone("0771111111"), "+263771111111");
  assert.equal(parseSimulatorPhone("0044 20 7946 0958"), "+442079460958");
  for (
    const bad of [
      "",
      "abc",
      "+0123456",
      "+1234",
      "+1234567890123456",
      "\u0000",
      "\ud800",
      "12345678",
      "+26377<script>",
    ]
  ) {
    assert.throws(
      () => parseSimulatorPhone(bad),
      (e) =>
        e instanceof AppError && e.code === "validation_failed" && e.details?.field === "phone",
      JSON.stringify(bad),
    );
  }
});

Deno.test("the send body: wrong types, unknown fields, NUL and lone surrogates, 100 KB are refused", () => {
  const ok = SimulatorSendSchema.safeParse({ phone: PHONE, type: "text", text: "hi" });
  assert.ok(ok.success);
  for (
    const bad of [
      null,
      [],
      "hi",
      { phone: PHONE, type: "text" },
      { phone: PHONE, type: "text", text: 42 },
      { phone: PHONE, type: "text", text: "a\u0000b" },
      { phone: PHONE, type: "text", text: "\udc00" },
      { phone: PHONE, type: "text", text: "x".repeat(100 * 1024) },
      { phone: PHONE, type: "text", text: "   " },
      { phone: PHONE, type: "text", text: "hi", extra: 1 },
      { phone: PHONE, type: "reply", replyTo: "", id: "x" },
      { phone: PHONE, type: "voice", text: "hi" },
      { phone: ["+263771111111"], type: "text", text: "hi" },
    ]
  ) {
    assert.equal(
      SimulatorSendSchema.safeParse(bad).success,
      false,
      JSON.stringify(bad)?.slice(0, 80),
    );
  }
});
