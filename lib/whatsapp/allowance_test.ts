import assert from "node:assert/strict";
import { withDatabase } from "../../tests/harness.ts";
import { allowanceOf } from "./allowance.ts";

Deno.test("a phone's allowance is counted from its stored messages, whichever instance stored or answers them", async () => {
  await withDatabase(async (db) => {
    const sql = db.sql;
    const store = async (phone: string, at: string, provider = "meta") => {
      const [row] = await sql`
        insert into whatsapp_inbound (provider, provider_message_id, phone, type, message,
                                      received_at)
        values (${provider}, ${crypto.randomUUID()}, ${phone}, 'text', '{}', ${at})
        returning seq, received_at`;
      return { phone, seq: row.seq as string, receivedAt: row.received_at as Date };
    };
    const phone = "+263771000001";
    // Five messages in one minute (stored by any instance), a payment event among them, and
    // one from another phone: with 3 a minute, the fourth gets the warning, the fifth nothing.
    type Stored = Awaited<ReturnType<typeof store>>;
    const m: Stored[] = [];
    m.push(await store(phone, "2026-11-23T10:00:01Z"));
    m.push(await store(phone, "2026-11-23T10:00:02Z"));
    await store(phone, "2026-11-23T10:00:03Z", "system");
    await store("+263771000002", "2026-11-23T10:00:03Z");
    m.push(await store(phone, "2026-11-23T10:00:04Z"));
    m.push(await store(phone, "2026-11-23T10:00:05Z"));
    m.push(await store(phone, "2026-11-23T10:00:59Z"));
    const next = await store(phone, "2026-11-23T10:01:00Z");
    // Answered in any order, and again (a retry, a takeover): each decides the same.
    const decide = (x: Stored) => allowanceOf(sql, x, 3);
    assert.deepEqual(
      await Promise.all([...m].reverse().map(decide)),
      ["silent", "warn", "ok", "ok", "ok"],
    );
    assert.equal(await decide(m[3]), "warn");
    assert.equal(await decide(next), "ok", "a new minute starts afresh");
  });
});
