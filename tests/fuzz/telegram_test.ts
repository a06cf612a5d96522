/**
 * The Telegram webhook under generated hostile deliveries (tests/fuzz/hostile_webhooks.ts):
 * wrong types, missing fields, unsafe ids, huge strings, NUL, lone surrogates, broken JSON,
 * other update kinds, repeated update ids.
 *
 * - The parser never throws, and what it keeps is storable as it is.
 * - A delivery without the right secret is a 401, whatever else it holds.
 * - Through the real app, hostile deliveries with the right secret, sent at the same moment as
 *   valid ones, are answered 200 (or 413 when too large), never a 5xx; every valid update is
 *   recorded; afterwards every recorded update is answered, skipped or failed alone: nothing left
 *   open, no dead letter, no failing reconciler.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { announceSeed, fuzzParams } from "./settings.ts";
import { ACCEPTABLE, settled } from "./intake.ts";
import { FUZZ_CHATS, nastyText, telegramBody } from "./hostile_webhooks.ts";
import { readUpdate } from "../../lib/telegram/update.ts";
import { storable } from "../../lib/whatsapp/storable.ts";
import { setupTelegram, textUpdate, WEBHOOK_PATH, WEBHOOK_SECRET } from "../telegram_app.ts";
import type { TestApp } from "../harness.ts";

announceSeed("tests/fuzz/telegram_test.ts");

Deno.test("fuzz: the Telegram update reader never throws and keeps only storable text", () => {
  fc.assert(
    fc.property(telegramBody, (body) => {
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder().decode(body));
      } catch {
        return; // the intake acknowledges it as invalid before reading
      }
      const update = readUpdate(json);
      if (update.kind !== "message") return;
      assert.equal(storable(update), update, "nothing left to clean");
      assert.ok(Number.isSafeInteger(update.chatId) && Number.isSafeInteger(update.updateId));
      if (update.input.kind === "text") assert.ok(update.input.text.length <= 8_000);
    }),
    fuzzParams({ numRuns: fuzzParams().numRuns! * 4 }),
  );
});

/** Waits until no update is open, then checks that nothing died on the way. */
const settledUpdates = (app: TestApp) =>
  settled(app, "updates still open", async () => {
    const [{ n }] = await app.server.db.sql`select count(*)::int as n from telegram_updates
                                            where status in ('pending', 'working')`;
    return n;
  });

Deno.test("fuzz: hostile Telegram deliveries beside valid ones: no 5xx, wrong secrets refused, every valid update recorded and answered or failed alone", async () => {
  await using t = await setupTelegram();
  const post = async (body: Uint8Array<ArrayBuffer> | string, secret = WEBHOOK_SECRET) => {
    const res = await t.app.fetch(WEBHOOK_PATH, {
      method: "POST",
      body,
      headers: {
        "content-type": "application/json",
        "x-telegram-bot-api-secret-token": secret,
      },
    });
    await res.body?.cancel();
    return res.status;
  };
  // Valid updates are numbered far from the hostile ones (which repeat small numbers).
  let nextId = 50_000_000;
  await fc.assert(
    fc.asyncProperty(
      fc.array(telegramBody, { minLength: 1, maxLength: 4 }),
      fc.array(fc.constantFrom(...FUZZ_CHATS), { minLength: 1, maxLength: 3 }),
      nastyText.map((s) => s.slice(0, 300)),
      async (hostile, senders, wrongSecret) => {
        const valid = senders.map((chat) => ({
          ...textUpdate(chat, "hello"),
          update_id: nextId++,
        }));
        const [hostileStatus, validStatus, forged] = await Promise.all([
          Promise.all(hostile.map((body) => post(body))),
          Promise.all(valid.map((u) => post(JSON.stringify(u)))),
          // Header values must be ISO-8859-1: the hostile text is squeezed into it.
          post(
            JSON.stringify(valid[0]),
            wrongSecret.replace(/[^\x20-\x7e]/g, "?").trim() || "x",
          ),
        ]);
        assert.ok(hostileStatus.every((s) => ACCEPTABLE.has(s)), `${hostileStatus}`);
        assert.deepEqual(validStatus, valid.map(() => 200));
        assert.equal(forged, 401);
        const ids = valid.map((u) => u.update_id);
        const stored = await t.app.server.db.sql`
          select update_id from telegram_updates where update_id = any(${ids}::bigint[])`;
        assert.equal(stored.length, ids.length, "every valid update recorded");
      },
    ),
    fuzzParams(),
  );
  await settledUpdates(t.app);
  const [{ n }] = await t.app.server.db.sql`
    select count(*)::int as n from telegram_updates where status not in ('answered', 'skipped')`;
  assert.equal(n, 0, "nothing failed");
  const [{ hostile }] = await t.app.server.db.sql`
    select count(*)::int as hostile from telegram_updates where update_id < 50000000`;
  assert.ok(hostile > 0, "hostile updates reached the database too");
});
