/**
 * Generators of hostile input for the fuzz suite: text the database cannot store as it is (NUL,
 * lone surrogates), huge strings, wrong types, deep nesting, impossible times and phone numbers,
 * repeated ids, and whole Meta, Twilio and Telegram webhook bodies built from them. Sizes are bounded so a
 * run of the suite stays well under a minute.
 */
import fc from "fast-check";
import {
  type MetaMessage,
  metaText,
  metaWebhook,
  twilioInbound,
} from "../../lib/sandbox/whatsapp_sign.ts";

/**
 * Text meant to break something: control characters, lone surrogates, injection attempts, and
 * long runs (up to `maxChars`).
 */
export function nasty(maxChars = 100_000): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.constantFrom(
      "\u0000",
      "a\u0000b",
      "\ud800",
      "x\udfffy",
      "\udc00\ud800",
      "'; drop table users; --",
      "' OR 1=1--",
      "<script>alert(1)</script>",
      "\u202egnp.exe",
      "%00",
      "\r\n\r\n",
      "{{1}}",
      "🇿🇼\u200d",
    ),
    fc.tuple(
      fc.string({ unit: "binary", minLength: 1, maxLength: 4 }),
      fc.integer({ min: 1, max: Math.max(1, Math.floor(maxChars / 4)) }),
    ).map(([s, n]) => s.repeat(n)),
  );
}

/** Hostile text of up to ~100 KB: large, but far inside the Meta webhook's body limit. */
export const nastyText: fc.Arbitrary<string> = nasty();

/**
 * The valid numbers the generators use (a few, so the end-to-end tests can give them accounts
 * beforehand and no burst of sign-ups runs beside the hostile traffic).
 */
export const FUZZ_PHONES: readonly string[] = [
  "263771234567",
  ...Array.from({ length: 15 }, (_, i) => `2637790${String(i).padStart(5, "0")}`),
];

/** Phone numbers as a sender field may hold them: valid ones and the hostile kinds. */
export const phoneLike: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...FUZZ_PHONES),
  fc.constantFrom(
    "26377123456789012345",
    "9".repeat(5_000),
    "' OR 1=1--",
    "",
    "+",
    "whatsapp:+263771234567",
    "0",
    "-263771234567",
    "263 77 123 4567",
  ),
  fc.string({ unit: "binary", maxLength: 30 }),
);

/** Times as a timestamp field may hold them (Meta sends unix seconds as text). */
export const oddTime: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom("-99999999999999999", "1e400", "NaN", "", "0", "-1", "99999999999999999", "0x10"),
  fc.integer().map(String),
  fc.double(),
  fc.constant(String(Math.floor(Date.now() / 1000))),
);

/** A JSON value nested `depth` levels deep (arrays and objects alternating). */
export function deeplyNested(depth: number): unknown {
  let value: unknown = "bottom";
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { a: value };
  return value;
}

/** Anything at all where a field was expected. */
export const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.integer(),
  nastyText,
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: 10, max: 3_000 }).map(deeplyNested),
);

/** Either a plausible value or junk. */
const maybe = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 3, arbitrary: arb }, { weight: 1, arbitrary: junk });

/** Ids, some repeated across a batch, some unusable. */
export const messageId: fc.Arbitrary<unknown> = fc.oneof(
  fc.uuid().map((u) => `wamid.fuzz-${u}`),
  fc.constantFrom("wamid.DUPLICATE-1", "wamid.DUPLICATE-2", "", "x".repeat(3_000)),
  junk,
);

const metaTypes = [
  "text",
  "interactive",
  "button",
  "image",
  "document",
  "audio",
  "location",
  "video",
  "sticker",
  "reaction",
  "unsupported",
  "order",
];

/** One Meta message object, any field possibly wrong. */
export const metaMessage: fc.Arbitrary<Record<string, unknown>> = fc.record({
  from: maybe(phoneLike),
  id: messageId,
  timestamp: maybe(oddTime),
  type: maybe(fc.constantFrom(...metaTypes)),
  text: maybe(fc.record({ body: maybe(nastyText) })),
  interactive: maybe(fc.record({
    type: maybe(fc.constantFrom("button_reply", "list_reply", "nfm_reply")),
    button_reply: maybe(fc.record({ id: maybe(nastyText), title: maybe(nastyText) })),
    list_reply: maybe(fc.record({
      id: maybe(nastyText),
      title: maybe(nastyText),
      description: maybe(nastyText),
    })),
  })),
  button: maybe(fc.record({ payload: maybe(nastyText), text: maybe(nastyText) })),
  image: maybe(fc.record({
    id: maybe(nastyText),
    mime_type: maybe(nastyText),
    sha256: maybe(nastyText),
    caption: maybe(nastyText),
  })),
  location: maybe(fc.record({
    latitude: maybe(fc.double()),
    longitude: maybe(fc.double()),
    name: maybe(nastyText),
  })),
  context: maybe(fc.record({ id: maybe(nastyText), from: maybe(phoneLike) })),
  errors: maybe(fc.array(fc.record({ code: maybe(fc.integer()), title: maybe(nastyText) }))),
}, { requiredKeys: [] });

/** One delivery status for a message "we" sent. */
export const metaStatus: fc.Arbitrary<Record<string, unknown>> = fc.record({
  id: messageId,
  status: maybe(fc.constantFrom("sent", "delivered", "read", "failed", "deleted")),
  timestamp: maybe(oddTime),
  recipient_id: maybe(phoneLike),
  errors: maybe(fc.array(fc.record({ code: maybe(fc.integer()), title: maybe(nastyText) }))),
}, { requiredKeys: [] });

const metaChange = fc.record({
  field: maybe(fc.constant("messages")),
  value: maybe(fc.record({
    messaging_product: maybe(fc.constant("whatsapp")),
    metadata: maybe(fc.record({
      display_phone_number: maybe(phoneLike),
      phone_number_id: maybe(nastyText),
    })),
    contacts: maybe(fc.array(
      fc.record({
        wa_id: maybe(phoneLike),
        profile: maybe(fc.record({ name: maybe(nastyText) })),
      }),
      { maxLength: 4 },
    )),
    messages: maybe(fc.array(metaMessage, { maxLength: 4 })),
    statuses: maybe(fc.array(metaStatus, { maxLength: 3 })),
    errors: maybe(fc.array(junk, { maxLength: 2 })),
  }, { requiredKeys: [] })),
}, { requiredKeys: [] });

/** A genuine message from one of the valid numbers with one to three fields made hostile. */
const metaNearlyValid: fc.Arbitrary<MetaMessage> = fc.tuple(
  fc.constantFrom(...FUZZ_PHONES),
  nastyText,
  fc.dictionary(
    fc.constantFrom("from", "id", "timestamp", "type", "text", "context"),
    fc.oneof(junk, phoneLike, oddTime, messageId),
    { minKeys: 1, maxKeys: 3 },
  ),
  fc.option(nastyText, { nil: undefined }),
).map(([phone, text, overrides, name]) => {
  const m = metaText({ from: phone, text, ...(name === undefined ? {} : { name }) });
  Object.assign(m.message, overrides);
  return m;
});

/** A whole Meta webhook body as a JSON value: few entries with much in them, or very many. */
export const metaPayload: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.array(metaNearlyValid, { minLength: 1, maxLength: 4 })
      .map((messages) => metaWebhook({ messages })),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      object: maybe(fc.constant("whatsapp_business_account")),
      entry: maybe(fc.array(
        fc.record({ id: maybe(nastyText), changes: maybe(fc.array(metaChange, { maxLength: 2 })) }),
        { maxLength: 3 },
      )),
    }, { requiredKeys: [] }),
  },
  {
    weight: 1,
    arbitrary: fc.array(
      fc.record({ id: fc.constant("1"), changes: fc.array(metaChange, { maxLength: 1 }) }),
      { minLength: 20, maxLength: 60 },
    ).map((entry) => ({ object: "whatsapp_business_account", entry })),
  },
  { weight: 1, arbitrary: junk },
);

/** How a body's bytes are damaged: raw bytes JSON cannot hold spliced in, or cut short. */
const DAMAGE = ["none", "nul", "bad-utf8", "truncate"] as const;

/** `payload` as JSON bytes, damaged as `damage` says at a point chosen by `at`. */
function damagedBytes(
  payload: unknown,
  damage: typeof DAMAGE[number],
  at: number,
): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(JSON.stringify(payload) ?? "null");
  const i = bytes.length === 0 ? 0 : at % bytes.length;
  const splice = (inserted: number[]) => {
    const out = new Uint8Array(bytes.length + inserted.length);
    out.set(bytes.subarray(0, i));
    out.set(inserted, i);
    out.set(bytes.subarray(i), i + inserted.length);
    return out;
  };
  switch (damage) {
    case "nul":
      return splice([0]);
    case "bad-utf8":
      return splice([0xff, 0xc3]);
    case "truncate":
      return bytes.slice(0, i);
    default:
      return bytes;
  }
}

/**
 * A Meta body as bytes: the payload's JSON, sometimes with raw bytes JSON cannot hold spliced
 * in (a NUL, a byte that is not UTF-8), sometimes cut short.
 */
export const metaBody: fc.Arbitrary<Uint8Array<ArrayBuffer>> = fc.tuple(
  metaPayload,
  fc.constantFrom(...DAMAGE),
  fc.nat(),
).map(([payload, damage, at]) => damagedBytes(payload, damage, at));

/** Twilio posts small forms (our limit is 256 KB): its hostile text stays small. */
const smallNasty = nasty(4_000);

/** Twilio form fields for an inbound message or status callback, any of them hostile. */
const twilioAnyFields: fc.Arbitrary<Record<string, string>> = fc.record({
  MessageSid: fc.oneof(
    fc.uuid().map((u) => `SM${u.replaceAll("-", "")}`),
    fc.constantFrom("SMDUPLICATE", "", "x".repeat(3_000)),
    smallNasty,
  ),
  From: fc.oneof(phoneLike.map((p) => `whatsapp:+${p}`), phoneLike, smallNasty),
  WaId: phoneLike,
  To: phoneLike,
  Body: smallNasty,
  ProfileName: smallNasty,
  NumMedia: fc.oneof(fc.constantFrom("0", "1", "-1", "1e400", "abc", ""), smallNasty),
  MediaUrl0: fc.oneof(
    fc.constantFrom("http://127.0.0.1:9/x", "not a url", "file:///etc/passwd"),
    smallNasty,
  ),
  MediaContentType0: fc.oneof(fc.constantFrom("image/jpeg", "audio/ogg", "video/mp4"), smallNasty),
  Latitude: fc.oneof(fc.double().map(String), smallNasty),
  Longitude: fc.oneof(fc.double().map(String), smallNasty),
  ButtonPayload: smallNasty,
  ListId: smallNasty,
  MessageStatus: fc.oneof(
    fc.constantFrom("received", "sent", "delivered", "read", "failed", "undelivered"),
    smallNasty,
  ),
  ErrorCode: fc.oneof(fc.integer().map(String), smallNasty),
  OriginalRepliedMessageSid: smallNasty,
}, { requiredKeys: [] });

/**
 * Twilio form fields: a genuine inbound message with some fields made hostile, or any mix of
 * the fields Twilio uses, each possibly hostile; both with unknown fields added.
 */
export const twilioFields: fc.Arbitrary<Record<string, string>> = fc.oneof(
  fc.tuple(fc.constantFrom(...FUZZ_PHONES), twilioAnyFields).map(([phone, hostile]) => {
    const fields: Record<string, string> = twilioInbound({ from: phone, body: "hi" });
    for (const [k, v] of Object.entries(hostile).slice(0, 3)) fields[k] = v;
    return fields;
  }),
  twilioAnyFields,
).chain((known) =>
  fc.dictionary(smallNasty.filter((k) => k.length < 64), smallNasty, { maxKeys: 3 })
    .map((extra) => ({ ...extra, ...known }))
);

// ---- Telegram -------------------------------------------------------------------------------

/** Chat ids the Telegram fuzz treats as genuine private chats. */
export const FUZZ_CHATS: readonly number[] = Array.from({ length: 6 }, (_, i) => 7_700_000 + i);

/** Integers where Telegram sends ids: plausible, negative, unsafe, or not integers at all. */
const telegramId: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...FUZZ_CHATS),
  fc.integer({ min: 0, max: 1_000 }),
  fc.constantFrom(-1, 0, 2 ** 53, -(2 ** 60), 1.5, 1e400, "7700000", "", null),
  junk,
);

/** A Telegram message object, any field possibly wrong. */
const telegramMessage: fc.Arbitrary<Record<string, unknown>> = fc.record({
  message_id: maybe(fc.integer()),
  from: maybe(fc.record({
    id: telegramId,
    is_bot: maybe(fc.boolean()),
    first_name: maybe(nastyText),
    username: maybe(fc.oneof(fc.constantFrom("tendai_m", "a"), nastyText)),
  }, { requiredKeys: [] })),
  chat: maybe(fc.record({
    id: telegramId,
    type: maybe(fc.constantFrom("private", "group", "supergroup", "channel", "")),
  }, { requiredKeys: [] })),
  date: maybe(oddTime),
  text: maybe(nastyText),
  photo: maybe(fc.array(fc.record({ file_id: maybe(nastyText) }), { maxLength: 2 })),
  sticker: maybe(fc.record({ emoji: maybe(nastyText) })),
  entities: maybe(fc.array(junk, { maxLength: 2 })),
}, { requiredKeys: [] });

/**
 * A Telegram update as a JSON value: a private message from one of the chats with one to three
 * fields made hostile, any mix of an update's fields, another kind of update, or junk.
 */
export const telegramPayload: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.tuple(
      fc.constantFrom(...FUZZ_CHATS),
      fc.integer({ min: 1, max: 500 }),
      nastyText,
      fc.dictionary(
        fc.constantFrom("message_id", "from", "chat", "date", "text", "entities"),
        fc.oneof(junk, telegramId, nastyText),
        { maxKeys: 3 },
      ),
    ).map(([chat, updateId, text, overrides]) => ({
      update_id: updateId,
      message: {
        message_id: 1,
        from: { id: chat, is_bot: false, first_name: "Fuzz" },
        chat: { id: chat, type: "private" },
        date: Math.floor(Date.now() / 1000),
        text,
        ...overrides,
      },
    })),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      update_id: maybe(fc.oneof(fc.integer({ min: -5, max: 500 }), fc.constant(2 ** 60))),
      message: maybe(telegramMessage),
      edited_message: maybe(telegramMessage),
      callback_query: maybe(fc.record({ id: maybe(nastyText), data: maybe(nastyText) })),
      my_chat_member: maybe(junk),
    }, { requiredKeys: [] }),
  },
  { weight: 1, arbitrary: junk },
);

/** A Telegram webhook body as bytes, sometimes damaged like Meta's. */
export const telegramBody: fc.Arbitrary<Uint8Array<ArrayBuffer>> = fc.tuple(
  telegramPayload,
  fc.constantFrom(...DAMAGE),
  fc.nat(),
).map(([payload, damage, at]) => damagedBytes(payload, damage, at));
