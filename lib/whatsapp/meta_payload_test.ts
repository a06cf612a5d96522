/** The bodies we send Meta: shapes, and Meta's limits enforced before anything is sent. */
import assert from "node:assert/strict";
import { metaMessagePayload } from "./meta_payload.ts";
import { type OutboundMessage, WhatsAppError } from "./types.ts";

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
