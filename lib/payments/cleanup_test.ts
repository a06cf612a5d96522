import assert from "node:assert/strict";
import { withDatabase } from "../../tests/harness.ts";
import { createUser } from "../accounts/users.ts";
import type { Database } from "../db/mod.ts";
import { cleanUpPayments } from "./cleanup.ts";

/** A payment in `status`, its deadline `expiredHoursAgo` hours in the past (negative: ahead). */
async function payment(
  db: Database,
  userId: string,
  status: string,
  expiredHoursAgo: number,
  flag: string | null = null,
): Promise<string> {
  const [pkg] = await db.sql`select id, tokens from token_packages order by position limit 1`;
  const [row] = await db.sql`
    insert into payments (user_id, package_id, tokens, currency, amount, method, reference,
                          status, flag, expires_at, settled_at)
    values (${userId}, ${pkg.id}, ${pkg.tokens}, 'USD', 1.00, 'web',
            ${"HK" + crypto.randomUUID().slice(0, 12)}, ${status}, ${flag},
            now() - ${expiredHoursAgo} * interval '1 hour',
            ${flag ? new Date() : null})
    returning id`;
  return row.id;
}

Deno.test("the daily clean-up expires what never reached Paynow, once, and counts the rest", async () => {
  await withDatabase(async (db) => {
    const user = await createUser(db.sql, {
      email: `cleanup-${crypto.randomUUID()}@example.com`,
      password: "long enough",
    });
    const stale = await payment(db, user.id, "created", 2);
    const recent = await payment(db, user.id, "created", 0.5);
    await payment(db, user.id, "sent", 2);
    await payment(db, user.id, "paid", 5, "amount_mismatch");

    assert.deepEqual(await cleanUpPayments(db.sql), { expired: 1, unsettled: 1, flagged: 1 });
    const rows = await db.sql`select id, status, next_poll_at, settled_at from payments
                              where id in (${stale}, ${recent}) order by status`;
    assert.deepEqual(rows.map((r) => [r.id, r.status]), [[recent, "created"], [stale, "expired"]]);
    assert.ok(rows[1].settled_at instanceof Date);
    const events = await db.sql`select source, status_from, status_to from payment_events
                                where payment_id = ${stale}`;
    assert.deepEqual(events.map((e) => ({ ...e })), [
      { source: "expiry", status_from: "created", status_to: "expired" },
    ]);

    // Run again: nothing more to expire, no second record.
    assert.equal((await cleanUpPayments(db.sql)).expired, 0);
    const [{ n }] = await db.sql`select count(*)::int as n from payment_events`;
    assert.equal(n, 1);
  });
});
