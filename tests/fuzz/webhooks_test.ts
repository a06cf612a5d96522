/**
 * The WhatsApp webhooks under generated hostile deliveries that are correctly signed (tests/
 * fuzz/hostile.ts): wrong types, missing fields, huge strings, NUL, lone surrogates, deep
 * nesting, odd times and phone numbers, repeated ids, many entries.
 *
 * - The parsers never throw, and what they return is storable as it is.
 * - Through the real app, hostile deliveries sent at the same moment as valid ones are answered
 *   200 (or 413 when too large), every valid message is stored, nothing is a 5xx, and afterwards
 *   every stored message gets an answer or fails alone: no dead letter, no failing reconciler.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { announceSeed, fuzzParams } from "./settings.ts";
import { ACCEPTABLE, settled } from "./intake.ts";
import { FUZZ_PHONES, metaBody, twilioFields } from "./hostile_webhooks.ts";
import { parseMetaWebhook } from "../../lib/whatsapp/meta.ts";
import { parseTwilioWebhook } from "../../lib/whatsapp/twilio.ts";
import { storable } from "../../lib/whatsapp/storable.ts";
import { PHONE_NUMBER } from "../../lib/whatsapp/types.ts";
import { findOrCreatePhoneUser } from "../../lib/accounts/users.ts";
import type { TestApp } from "../harness.ts";
import {
  metaText,
  metaWebhook,
  signedTwilioWebhook,
  signMeta,
  twilioInbound,
} from "../../lib/sandbox/whatsapp_sign.ts";
import { APP_SECRET, setup, twilioApp } from "../whatsapp_app.ts";

announceSeed("tests/fuzz/webhooks_test.ts");

const RECEIVED_AT = Date.now();

Deno.test("fuzz: the Meta parser never throws and returns storable messages with believable times", () => {
  fc.assert(
    fc.property(metaBody, (body) => {
      const parsed = parseMetaWebhook(body, RECEIVED_AT);
      assert.equal(storable(parsed), parsed, "nothing left to clean");
      for (const m of [...parsed.messages, ...parsed.statuses]) {
        assert.ok(Number.isFinite(m.timestamp));
        assert.ok(Math.abs(m.timestamp - RECEIVED_AT) <= 31 * 24 * 3600 * 1000);
      }
      for (const m of parsed.messages) {
        assert.equal(typeof m.id, "string");
        assert.match(m.from, /^\+\d+$/);
      }
    }),
    fuzzParams({ numRuns: fuzzParams().numRuns! * 4 }),
  );
});

/** Twilio sends UTF-8: a lone surrogate reaches us as U+FFFD, so the fields are made so first. */
const wellFormed = (fields: Record<string, string>) =>
  Object.fromEntries(Object.entries(fields).map(([k, v]) => [k.toWellFormed(), v.toWellFormed()]));

Deno.test("fuzz: the Twilio parser never throws and returns storable messages", () => {
  fc.assert(
    fc.property(twilioFields, (fields) => {
      const form = new URLSearchParams(new URLSearchParams(fields).toString());
      const parsed = parseTwilioWebhook(form, RECEIVED_AT);
      assert.equal(storable(parsed), parsed);
      assert.ok(parsed.messages.length + parsed.statuses.length <= 1);
      for (const m of parsed.messages) assert.equal(m.timestamp, RECEIVED_AT);
    }),
    fuzzParams({ numRuns: fuzzParams().numRuns! * 4 }),
  );
});

/** Waits until no stored message is pending, then checks that nothing died on the way. */
async function settledMessages(app: TestApp): Promise<void> {
  const sql = app.server.db.sql;
  await settled(app, "messages still pending", async () => {
    const [{ n }] = await sql`select count(*)::int as n from whatsapp_inbound
                              where status = 'pending'`;
    return n;
  });
  const [{ n: failed }] = await sql`select count(*)::int as n from whatsapp_webhook_log
                                    where status >= 500`;
  assert.equal(failed, 0, "no delivery failed");
}

/** Accounts for the generators' valid numbers, made one at a time before the traffic. */
/**
 * Posts generated hostile deliveries at the same moment as valid ones from the fuzz phones (whose
 * accounts exist): each hostile one is answered acceptably, each valid one 200 and stored; then
 * every stored message is answered or failed alone.
 */
async function hostileBesideValid<Hostile, Valid>(app: TestApp, webhook: {
  hostile: fc.Arbitrary<Hostile>;
  /** A valid delivery from `phone` and the id of its message. */
  valid(phone: string): { delivery: Valid; id: string };
  post(delivery: Hostile | Valid): Promise<Response>;
}): Promise<void> {
  for (const phone of FUZZ_PHONES) await findOrCreatePhoneUser(app.server.db.sql, `+${phone}`);
  const status = async (delivery: Hostile | Valid) => {
    const res = await webhook.post(delivery);
    await res.body?.cancel();
    return res.status;
  };
  await fc.assert(
    fc.asyncProperty(
      fc.array(webhook.hostile, { minLength: 1, maxLength: 4 }),
      fc.array(fc.constantFrom(...FUZZ_PHONES), { minLength: 1, maxLength: 3 }),
      async (hostile, senders) => {
        const valid = senders.map((phone) => webhook.valid(phone));
        const [hostileStatus, validStatus] = await Promise.all([
          Promise.all(hostile.map(status)),
          Promise.all(valid.map((v) => status(v.delivery))),
        ]);
        assert.ok(hostileStatus.every((s) => ACCEPTABLE.has(s)), `${hostileStatus}`);
        assert.deepEqual(validStatus, valid.map(() => 200));
        const ids = valid.map((v) => v.id);
        const stored = await app.server.db.sql`
          select provider_message_id from whatsapp_inbound
          where provider_message_id = any(${ids})`;
        assert.equal(stored.length, ids.length, "every valid message stored");
      },
    ),
    fuzzParams(),
  );
  await settledMessages(app);
}

Deno.test("fuzz: hostile Meta deliveries beside valid ones: no 5xx, every valid message stored, all answered or failed alone", async () => {
  await using t = await setup();
  await hostileBesideValid(t.app, {
    hostile: metaBody,
    valid(phone) {
      const m = metaText({ from: phone, text: "help" });
      return {
        delivery: JSON.stringify(metaWebhook({ messages: [m] })),
        id: m.message.id as string,
      };
    },
    post: (body) =>
      t.app.fetch("/api/whatsapp/webhook", {
        method: "POST",
        body,
        headers: {
          "content-type": "application/json",
          "x-hub-signature-256": signMeta(APP_SECRET, body),
        },
      }),
  });
  // Only phone numbers were ever stored.
  const phones = await t.app.server.db.sql`select distinct phone from whatsapp_inbound`;
  assert.ok(phones.every((r) => PHONE_NUMBER.test(r.phone)), JSON.stringify(phones));
});

Deno.test("fuzz: hostile Twilio deliveries beside valid ones: no 5xx, every valid message stored, all answered or failed alone", async () => {
  const { fake, app } = await twilioApp();
  try {
    const url = `${app.url}/api/whatsapp/twilio`;
    await hostileBesideValid(app, {
      hostile: twilioFields,
      valid(phone) {
        const fields = twilioInbound({ from: phone, body: "help" });
        return { delivery: fields, id: fields.MessageSid };
      },
      post(fields) {
        const signed = signedTwilioWebhook(fake.authToken, url, wellFormed(fields));
        return app.fetch("/api/whatsapp/twilio", {
          method: "POST",
          body: signed.body,
          headers: signed.headers,
        });
      },
    });
  } finally {
    await app.close();
    await fake.close();
  }
});
