import assert from "node:assert/strict";
import { withDatabase as withDb } from "../../tests/harness.ts";
import type { Database } from "../db/mod.ts";
import { createUser } from "../accounts/users.ts";
import { getBalance, listEntries, post } from "./ledger.ts";
import { reserve, settle, sweepExpired } from "./reservations.ts";

let n = 0;
const newUser = (db: Database) =>
  createUser(db.sql, {
    email: `wallet${++n}-${crypto.randomUUID()}@example.com`,
    password: "long enough",
  });

/** A new user who bought `tokens`. */
async function newFundedUser(db: Database, tokens: number) {
  const user = await newUser(db);
  await post(db.sql, {
    userId: user.id,
    kind: "purchase_credit",
    delta: tokens,
    idempotencyKey: `buy:${user.id}`,
    description: `${tokens} tokens`,
  });
  return user;
}

async function assertBooksBalance(db: Database) {
  const [{ total }] = await db
    .sql`select coalesce(sum(balance), 0)::bigint as total from ledger_accounts`;
  assert.equal(Number(total), 0, "all balances sum to zero");
  const mismatched = await db.sql`
    select a.name, a.balance,
           coalesce((select sum(amount) from ledger_entries where credit_account = a.id), 0) -
           coalesce((select sum(amount) from ledger_entries where debit_account = a.id), 0) as derived
    from ledger_accounts a`;
  for (const row of mismatched) {
    assert.equal(
      Number(row.balance),
      Number(row.derived),
      `${row.name}: balance equals its entries`,
    );
  }
}

Deno.test("200 concurrent debits of 1 token against a balance of 50: exactly 50 succeed", async () => {
  await withDb(async (db) => {
    const user = await newUser(db);
    await post(db.sql, {
      userId: user.id,
      kind: "purchase_credit",
      delta: 50,
      idempotencyKey: "buy-1",
      description: "50 tokens",
    });
    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) =>
      post(db.sql, {
        userId: user.id,
        kind: "usage_debit",
        delta: -1,
        idempotencyKey: `spend-${i}`,
        description: "one answer",
      })));
    const ok = results.filter((r) => r.status === "fulfilled").length;
    assert.equal(ok, 50);
    const refused = results.filter((r) => r.status === "rejected");
    assert.ok(
      refused.every((r) => (r as PromiseRejectedResult).reason.code === "insufficient_balance"),
    );
    assert.deepEqual(await getBalance(db.sql, user.id), { balance: 0, reserved: 0, available: 0 });
    await assertBooksBalance(db);
  });
});

Deno.test("the same purchase credit posted twice (one idempotency key) credits once", async () => {
  await withDb(async (db) => {
    const user = await newUser(db);
    const credit = {
      userId: user.id,
      kind: "purchase_credit" as const,
      delta: 500,
      idempotencyKey: "payment:abc",
      description: "500 tokens (EcoCash)",
    };
    const [first, second] = await Promise.all([post(db.sql, credit), post(db.sql, credit)]);
    assert.equal([first.applied, second.applied].filter(Boolean).length, 1);
    assert.equal(first.entry.id, second.entry.id);
    assert.equal((await getBalance(db.sql, user.id)).balance, 500);
    const third = await post(db.sql, credit);
    assert.equal(third.applied, false);
    assert.equal((await listEntries(db.sql, user.id)).entries.length, 1);
    await assertBooksBalance(db);
  });
});

Deno.test("a reservation holds tokens, settles the actual use and releases the rest", async () => {
  await withDb(async (db) => {
    const user = await newFundedUser(db, 100);
    const r = await reserve(db.sql, { userId: user.id, amount: 80, purpose: "chat" });
    assert.deepEqual(await getBalance(db.sql, user.id), {
      balance: 100,
      reserved: 80,
      available: 20,
    });
    await assert.rejects(
      reserve(db.sql, { userId: user.id, amount: 30, purpose: "chat" }),
      (e: { code?: string }) => e.code === "insufficient_balance",
    );
    const settled = await settle(db.sql, r.id, 35, { description: "answer" });
    assert.equal(settled?.entry.delta, -35);
    assert.deepEqual(await getBalance(db.sql, user.id), {
      balance: 65,
      reserved: 0,
      available: 65,
    });
    assert.equal(await settle(db.sql, r.id, 35, { description: "answer" }), null, "settles once");
    assert.equal((await getBalance(db.sql, user.id)).balance, 65);
    await assertBooksBalance(db);
  });
});

Deno.test("reservations racing for the same tokens: only those the wallet covers pass", async () => {
  await withDb(async (db) => {
    const user = await newFundedUser(db, 100);
    const results = await Promise.allSettled(
      Array.from(
        { length: 10 },
        () => reserve(db.sql, { userId: user.id, amount: 30, purpose: "chat" }),
      ),
    );
    const passed = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    assert.equal(passed.length, 3);
    for (const r of refused) {
      assert.equal(r.reason.code, "insufficient_balance");
      assert.ok(r.reason.details.available < 30, "the refusal says what is left");
    }
    assert.deepEqual(await getBalance(db.sql, user.id), {
      balance: 100,
      reserved: 90,
      available: 10,
    });
    const [{ n }] = await db.sql`select count(*)::int as n from reservations
                                 where user_id = ${user.id} and status = 'open'`;
    assert.equal(n, 3, "one reservation row per hold");
    await assert.rejects(
      reserve(db.sql, { userId: crypto.randomUUID(), amount: 1, purpose: "chat" }),
      (e: { code?: string }) => e.code === "not_found",
    );
  });
});

Deno.test("settlements racing on one wallet: each reservation debited once, the books balance", async () => {
  await withDb(async (db) => {
    const user = await newFundedUser(db, 1_000);
    const cap = { cap: 10_000, timeZone: "UTC" };
    const held = await Promise.all(Array.from(
      { length: 20 },
      () => reserve(db.sql, { userId: user.id, amount: 40, purpose: "chat", dailyCap: cap }),
    ));
    // Each settled twice at once, and all at once: 20 × 30 used, 10 of them released after.
    const settled = await Promise.all(held.flatMap((r, i) => {
      const used = i < 10 ? 30 : 0;
      return [1, 2].map(() => settle(db.sql, r.id, used, { description: "answer" }));
    }));
    assert.equal(settled.filter((s) => s?.applied).length, 10, "one debit per used reservation");
    assert.deepEqual(await getBalance(db.sql, user.id), {
      balance: 700,
      reserved: 0,
      available: 700,
    });
    const [account] = await db.sql`select cap_used from ledger_accounts
                                   where user_id = ${user.id}`;
    assert.equal(Number(account.cap_used), 300, "the day's count holds what was debited");
    const closed = await db.sql`select status, used from reservations where user_id = ${user.id}
                                order by status`;
    assert.deepEqual(
      closed.map((r) => `${r.status}:${r.used}`).sort(),
      [...Array(10).fill("released:0"), ...Array(10).fill("settled:30")],
    );
    await assert.rejects(
      settle(db.sql, crypto.randomUUID(), 1, { description: "answer" }),
      (e: { code?: string }) => e.code === "not_found",
    );
    await assertBooksBalance(db);
  });
});

Deno.test("usage above the reservation is charged only up to what the wallet holds", async () => {
  await withDb(async (db) => {
    const user = await newFundedUser(db, 40);
    const r = await reserve(db.sql, { userId: user.id, amount: 30, purpose: "essay" });
    const settled = await settle(db.sql, r.id, 55, { description: "long essay" });
    assert.equal(settled?.entry.delta, -40);
    assert.deepEqual(await getBalance(db.sql, user.id), { balance: 0, reserved: 0, available: 0 });
  });
});

Deno.test("a reservation whose request crashed is released by the sweeper", async () => {
  await withDb(async (db) => {
    const user = await newFundedUser(db, 10);
    await reserve(db.sql, { userId: user.id, amount: 10, purpose: "chat", ttlMs: 1_000 });
    assert.equal((await getBalance(db.sql, user.id)).available, 0);
    assert.equal(await sweepExpired(db.sql, new Date()), 0, "not yet expired");
    assert.equal(await sweepExpired(db.sql, new Date(Date.now() + 2_000)), 1);
    assert.deepEqual(await getBalance(db.sql, user.id), {
      balance: 10,
      reserved: 0,
      available: 10,
    });
    const [row] = await db.sql`select status from reservations`;
    assert.equal(row.status, "expired");
  });
});

Deno.test("admin adjustments need the admin; entries page by cursor, newest first", async () => {
  await withDb(async (db) => {
    const user = await newUser(db);
    const admin = await createUser(db.sql, {
      email: `admin-${crypto.randomUUID()}@example.com`,
      password: "long enough",
      role: "admin",
    });
    await assert.rejects(post(db.sql, {
      userId: user.id,
      kind: "admin_adjustment",
      delta: 5,
      idempotencyKey: "adj-no-admin",
      description: "goodwill",
    }));
    for (let i = 1; i <= 5; i++) {
      await post(db.sql, {
        userId: user.id,
        kind: "admin_adjustment",
        delta: i,
        idempotencyKey: `adj-${i}`,
        description: `goodwill ${i}`,
        adminId: admin.id,
        reference: { reason: "support ticket" },
      });
    }
    const first = await listEntries(db.sql, user.id, { limit: 2 });
    assert.deepEqual(first.entries.map((e) => e.delta), [5, 4]);
    const second = await listEntries(db.sql, user.id, { limit: 2, cursor: first.nextCursor! });
    assert.deepEqual(second.entries.map((e) => e.delta), [3, 2]);
    const third = await listEntries(db.sql, user.id, { limit: 2, cursor: second.nextCursor! });
    assert.deepEqual(third.entries.map((e) => e.delta), [1]);
    assert.equal(third.nextCursor, null);
    await assert.rejects(listEntries(db.sql, user.id, { cursor: "garbage!" }), /cursor/);
    await assertBooksBalance(db);
  });
});
