import assert from "node:assert/strict";
import { normaliseLinkCode } from "./links.ts";
import { readUpdate } from "./update.ts";

const message = (fields: Record<string, unknown>) => ({
  update_id: 10,
  message: {
    message_id: 1,
    from: { id: 42, is_bot: false, first_name: "T", username: "tendai_m" },
    chat: { id: 42, type: "private" },
    date: 1,
    ...fields,
  },
});

Deno.test("a private text message is read; text made storable and bounded", () => {
  assert.deepEqual(readUpdate(message({ text: "hi" })), {
    kind: "message",
    updateId: 10,
    chatId: 42,
    username: "tendai_m",
    input: { kind: "text", text: "hi" },
  });
  const odd = readUpdate(message({ text: "a\u0000b\ud800" }));
  assert.ok(odd.kind === "message" && odd.input.kind === "text");
  assert.equal(odd.input.text, "a\ufffdb\ufffd");
  const huge = readUpdate(message({ text: "😀".repeat(5_000) }));
  assert.ok(huge.kind === "message" && huge.input.kind === "text");
  assert.ok(huge.input.text.length <= 8_000 && huge.input.text.isWellFormed());
  // Not text: named by what it carries.
  assert.deepEqual(
    readUpdate(message({ photo: [{ file_id: "x" }], caption: "look" })),
    {
      kind: "message",
      updateId: 10,
      chatId: 42,
      username: "tendai_m",
      input: { kind: "other", what: "photo" },
    },
  );
});

Deno.test("other kinds are ignored, wrong shapes invalid, never a throw", () => {
  assert.equal(readUpdate({ update_id: 3, edited_message: {} }).kind, "ignored");
  assert.equal(readUpdate({ update_id: 3, callback_query: {} }).kind, "ignored");
  const group = message({ text: "hi" });
  group.message.chat = { id: -100, type: "group" };
  assert.equal(readUpdate(group).kind, "ignored");
  for (
    const body of [
      null,
      [],
      "x",
      { update_id: "10" },
      { update_id: 2 ** 60 },
      message({ text: 5 }),
      message({ chat: { id: 2 ** 60, type: "private" }, text: "x" }),
      message({ chat: "42", text: "x" }),
    ]
  ) {
    assert.equal(readUpdate(body).kind, "invalid", JSON.stringify(body));
  }
});

Deno.test("link codes: case, spaces and dashes ignored; look-alikes and wrong lengths refused", () => {
  assert.equal(normaliseLinkCode(" k7qx-m2pa "), "K7QXM2PA");
  assert.equal(normaliseLinkCode("K7QXM2P0"), null, "0 is not in the alphabet");
  assert.equal(normaliseLinkCode("K7QXM2P"), null);
  assert.equal(normaliseLinkCode(""), null);
});
