/**
 * Buying tokens end to end against the fake Paynow (lib/sandbox/paynow.ts): express and web
 * checkout, result POSTs lost, duplicated and forged, polling, expiry, a crash mid-way, and the
 * live events that tell the user. Runs on whichever database back end the run uses.
 */
import assert from "node:assert/strict";
import {
  closing,
  prepareStorage,
  signUp,
  startServerProcess,
  startTestApp,
  type TestApp,
} from "./harness.ts";
import { type FakePaynowOptions, startFakePaynow } from "../lib/sandbox/paynow.ts";
import {
  claimDuePolls,
  hasOverduePolls,
  type Payments,
  pollClaimed,
  pollDuePayments,
  pollPayment,
} from "../lib/payments/mod.ts";
import { pollTickAt } from "../lib/payments/jobs.ts";
import { PaynowClient, PaynowError } from "../lib/paynow/mod.ts";
import { createSession } from "../lib/accounts/credentials.ts";
import { csrfTokenFor } from "../routes/_auth.ts";
import { paynowEnv } from "./fixtures/paynow.ts";

const KEY = "3e9fed89-60e1-4ce5-ab6e-6b1eb2d4f977";

type Setup = Awaited<ReturnType<typeof setup>>;

async function setup(options: Partial<FakePaynowOptions> = {}) {
  const paynow = await startFakePaynow({
    integrations: { "1201": KEY },
    timeScale: 0.01,
    ...options,
  });
  const app = await startTestApp({
    env: paynowEnv(paynow.url, KEY),
  });
  const { user, auth } = await signUp(app.url, `buyer-${crypto.randomUUID()}@example.com`);
  const [pkg] = (await (await app.fetch("/api/v1/packages")).json()).packages;
  return closing({
    paynow,
    app,
    auth,
    userId: user.id as string,
    pkg: pkg as { id: string; tokens: number; prices: { USD: string } },
    async close() {
      await app.close();
      await paynow.close();
    },
  });
}

async function buy(
  app: TestApp,
  auth: Record<string, string>,
  body: Record<string, unknown>,
  key?: string,
) {
  const res = await app.fetch("/api/v1/payments", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...auth,
      ...(key ? { "idempotency-key": key } : {}),
    },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return await res.json();
}

/** The setup's user buys its first package by `method`, with `phone` for the express methods. */
const buyPackage = (t: Setup, method: string, phone?: string) =>
  buy(t.app, t.auth, { packageId: t.pkg.id, method, ...(phone ? { phone } : {}) });

async function waitForStatus(
  app: TestApp,
  id: string,
  status: string,
  ms = 20_000,
) {
  const until = Date.now() + ms;
  let last = "";
  while (Date.now() < until) {
    // The return page's status URL: public by the payment's unguessable id, not rate limited.
    last = (await (await app.fetch(`/pay/status/${id}`)).json()).status;
    if (last === status) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`payment stayed ${last}, expected ${status}`);
}

/** Whether the batch-poll tick for a payment due at `due` is queued (its dedupe key is held). */
const tickQueued = async (app: TestApp, due: Date) =>
  (await app.server.kv.get(["jobs", "dedupe", "payments.poll_due", `tick:${pollTickAt(due)}`]))
    .value !== null;

const balance = async (app: TestApp, auth: Record<string, string>) =>
  (await (await app.fetch("/api/v1/wallet", { headers: auth })).json()).balance as number;

/** Reads `event:` names from the user's SSE stream until `count` arrived. */
async function collectEvents(app: TestApp, auth: Record<string, string>) {
  const controller = new AbortController();
  const res = await app.fetch("/api/v1/events", { headers: auth, signal: controller.signal });
  assert.equal(res.headers.get("content-type")?.split(";")[0], "text/event-stream");
  const events: { event: string; data: Record<string, unknown> }[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const done = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = block.match(/^event: (.+)$/m)?.[1];
          const data = block.match(/^data: (.+)$/m)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
        }
      }
    } catch { /* aborted */ }
  })();
  // Wait for the stream's first event so no later event can be missed.
  const deadline = Date.now() + 10_000;
  while (!events.some((e) => e.event === "ready")) {
    if (Date.now() > deadline) throw new Error("the event stream sent no `ready` within 10 s");
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    events,
    async close() {
      // Cancelling the reader, not only aborting the request: Deno's client may leave a piped
      // body's read pending after an abort (bench/chat.ts saw half of 1,000 such streams stay open).
      controller.abort();
      await reader.cancel().catch(() => {});
      await done;
    },
  };
}

Deno.test("EcoCash 0771111111 → paid, credited once, events sent; the user sees it live", async () => {
  await using t = await setup();
  const stream = await collectEvents(t.app, t.auth);
  const payment = await buyPackage(t, "ecocash", "0771111111");
  assert.equal(payment.status, "sent");
  assert.match(payment.instructions ?? "", /./);
  assert.equal(payment.phone, "+263771111111");
  assert.equal(
    t.paynow.payment(payment.reference)?.phone,
    "0771111111",
    "Paynow gets the local form",
  );
  await waitForStatus(t.app, payment.id, "paid");
  assert.equal(await balance(t.app, t.auth), t.pkg.tokens);
  const start = Date.now();
  while (!stream.events.some((e) => e.event === "wallet.updated") && Date.now() - start < 5_000) {
    await new Promise((r) => setTimeout(r, 20));
  }
  await stream.close();
  const paidEvent = stream.events.find((e) =>
    e.event === "payment.updated" && e.data.status === "paid"
  );
  assert.ok(paidEvent, JSON.stringify(stream.events));
  const walletEvent = stream.events.find((e) => e.event === "wallet.updated");
  assert.equal(walletEvent?.data.balance, t.pkg.tokens);
  const events = await t.app.server.db.sql`select source, status_to from payment_events
                                            where payment_id = ${payment.id} order by id`;
  assert.equal(events[0].source, "initiate");
  assert.ok(events.some((e) => e.status_to === "paid"));
  const credits = await t.app.server.db
    .sql`select count(*)::int as n from ledger_entries where kind = 'purchase_credit'`;
  assert.equal(credits[0].n, 1);
});

Deno.test("0773333333 → cancelled, nothing credited; 0774444444 → Paynow's error, nothing pending", async () => {
  await using t = await setup();
  const cancelled = await buyPackage(t, "ecocash", "0773333333");
  await waitForStatus(t.app, cancelled.id, "cancelled");
  const refused = await buyPackage(t, "onemoney", "0774444444");
  assert.equal(refused.status, "failed");
  assert.match(refused.error, /Insufficient balance/);
  assert.equal(await balance(t.app, t.auth), 0);
  const [{ n }] = await t.app.server.db
    .sql`select count(*)::int as n from payments where status in ('created', 'sent')`;
  assert.equal(n, 0, "no payment left pending");
});

Deno.test("result POSTs never arrive: polling alone settles the payment", async () => {
  await using t = await setup({ behaviour: { loseResultPosts: true } });
  const payment = await buyPackage(t, "ecocash", "0771111111");
  await waitForStatus(t.app, payment.id, "paid", 15_000);
  assert.ok(t.paynow.resultPosts.every((p) => p.lost));
  const [row] = await t.app.server.db.sql`select count(*)::int as n from payment_events
                                          where payment_id = ${payment.id} and source = 'poll'`;
  assert.ok(row.n >= 1);
  assert.equal(await balance(t.app, t.auth), t.pkg.tokens);
});

Deno.test("5 duplicate result POSTs and the polls after them credit once", async () => {
  await using t = await setup({ behaviour: { duplicateResultPosts: 5 } });
  const payment = await buyPackage(t, "web");
  assert.match(payment.redirectUrl, /^http:\/\/127\.0\.0\.1/);
  await t.paynow.complete(payment.reference, "Paid");
  await waitForStatus(t.app, payment.id, "paid");
  await pollPayment(t.app.server.payments, payment.id);
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(t.paynow.resultPosts.filter((p) => p.httpStatus === 200).length >= 6);
  assert.equal(await balance(t.app, t.auth), t.pkg.tokens);
  const [{ n }] = await t.app.server.db
    .sql`select count(*)::int as n from ledger_entries where kind = 'purchase_credit'`;
  assert.equal(n, 1);
});

Deno.test("a forged result POST (bad hash) is refused with 400 and changes nothing", async () => {
  await using t = await setup();
  const payment = await buyPackage(t, "web");
  await t.paynow.postResult(payment.reference, { forged: true, status: "Paid" });
  const forged = t.paynow.resultPosts.find((p) => p.forged);
  assert.equal(forged?.httpStatus, 400);
  await new Promise((r) => setTimeout(r, 300));
  const after = await (await t.app.fetch(`/api/v1/payments/${payment.id}`, { headers: t.auth }))
    .json();
  assert.equal(after.status, "sent");
  assert.equal(await balance(t.app, t.auth), 0);
  assert.ok(t.app.logs.some((l) => l.includes("Paynow result POST refused")));
});

Deno.test("a payment that never settles becomes expired after its window", async () => {
  await using t = await setup();
  const payment = await buyPackage(t, "ecocash", "0775555555");
  await t.app.server.db
    .sql`update payments set expires_at = now() - interval '1 second' where id = ${payment.id}`;
  const payments = t.app.server.payments;
  const after = await pollPayment(payments, payment.id);
  assert.equal(after.status, "expired");
  assert.equal(await balance(t.app, t.auth), 0);
  // Paynow pays late: the payment stays expired and nothing is credited without an admin.
  await t.paynow.complete(payment.reference, "Paid");
  assert.equal((await pollPayment(payments, payment.id)).status, "expired");
  assert.equal(await balance(t.app, t.auth), 0);
});

Deno.test("a poll that finds the payment pending records it, queues the next poll and tells the user nothing", async () => {
  await using t = await setup();
  const stream = await collectEvents(t.app, t.auth);
  const payment = await buyPackage(t, "ecocash", "0775555555"); // not a test-mode number: stays pending
  const payments = t.app.server.payments;
  const sql = t.app.server.db.sql;
  for (const count of [1, 2]) {
    const before = Date.now();
    assert.equal((await pollPayment(payments, payment.id)).status, "sent");
    const [row] = await sql`select poll_count, next_poll_at from payments
                            where id = ${payment.id}`;
    assert.equal(row.poll_count, count);
    const dueIn = row.next_poll_at.getTime() - before;
    const expected = count === 1 ? 10_000 : 15_000; // the growing schedule
    assert.ok(dueIn >= expected - 1_000 && dueIn <= expected + 1_000, `next poll in ${dueIn} ms`);
    assert.ok(
      await tickQueued(t.app, row.next_poll_at),
      `the tick of poll ${count + 1} is queued`,
    );
  }
  const events = await sql`select source, paynow_status, status_from, status_to, note, raw
                           from payment_events where payment_id = ${payment.id} and source = 'poll'`;
  assert.equal(events.length, 2);
  for (const e of events) {
    assert.deepEqual([e.paynow_status, e.status_from, e.status_to, e.note], [
      "Sent",
      "sent",
      null,
      "no change",
    ]);
    assert.match(e.raw, /status=Sent/);
  }
  await new Promise((r) => setTimeout(r, 200));
  await stream.close();
  assert.deepEqual(stream.events.filter((e) => e.event === "payment.updated"), []);
});

Deno.test("an Idempotency-Key makes a retried POST return the same payment", async () => {
  await using t = await setup();
  const body = { packageId: t.pkg.id, method: "ecocash", phone: "0771111111" };
  const [a, b] = await Promise.all([
    buy(t.app, t.auth, body, "retry-key-123"),
    buy(t.app, t.auth, body, "retry-key-123"),
  ]);
  assert.equal(a.id, b.id);
  const [{ n }] = await t.app.server.db.sql`select count(*)::int as n from payments`;
  assert.equal(n, 1);
  const bad = await t.app.fetch("/api/v1/payments", {
    method: "POST",
    headers: { "content-type": "application/json", ...t.auth },
    body: JSON.stringify({ packageId: t.pkg.id, method: "ecocash", phone: "12345" }),
  });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error.message, /phone/);
});

Deno.test("SIGKILL while a payment is being polled: after the restart the poll resumes and settles", async () => {
  const paynow = await startFakePaynow({
    integrations: { "1201": KEY },
    phones: { "0775555555": { status: "Paid", afterMs: 4_000 } },
    behaviour: { loseResultPosts: true },
  });
  const storage = await prepareStorage();
  const env = {
    ...storage.env,
    ...paynowEnv(paynow.url, KEY),
  };
  const spawn = () => startServerProcess(env);
  try {
    const first = await spawn();
    const signup = await signUp(first.url, "killed@example.com");
    const auth = { ...signup.auth, "content-type": "application/json" };
    const [pkg] = (await (await fetch(first.url + "/api/v1/packages")).json()).packages;
    const payment = await (await fetch(first.url + "/api/v1/payments", {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ packageId: pkg.id, method: "ecocash", phone: "0775555555" }),
    })).json();
    assert.equal(payment.status, "sent");
    first.child.kill("SIGKILL");
    await first.child.status;

    const second = await spawn();
    try {
      const until = Date.now() + 30_000;
      let status = "";
      while (Date.now() < until && status !== "paid") {
        // The return page's status URL: not rate limited like the API.
        status = (await (await fetch(`${second.url}/pay/status/${payment.id}`)).json()).status;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(status, "paid");
      const wallet = await (await fetch(second.url + "/api/v1/wallet", { headers: auth })).json();
      assert.equal(wallet.balance, pkg.tokens);
    } finally {
      await second.stop();
    }
  } finally {
    await paynow.close();
    await storage.cleanup();
  }
});

Deno.test("the return page shows the payment live through its island; unknown ids are 404", async () => {
  await using t = await setup();
  const payment = await buyPackage(t, "web");
  const page = await t.app.fetch(`/pay/return?payment=${payment.id}`);
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /data-island="PaymentStatus"/);
  assert.match(html, /Waiting for Paynow to confirm your payment/);
  assert.equal((await t.app.fetch(`/pay/return?payment=${crypto.randomUUID()}`)).status, 404);
  assert.equal((await t.app.fetch("/pay/status/not-a-uuid")).status, 404);
});

/**
 * `n` pending web payments (started at the fake, recorded as `sent`) whose first poll is due
 * now, without a tick queued: the tests below run the polling themselves.
 */
async function duePayments(t: Awaited<ReturnType<typeof setup>>, n: number) {
  const client = t.app.server.payments.paynow.clients.USD!;
  const sql = t.app.server.db.sql;
  const rows = [];
  for (let i = 0; i < n; i++) {
    const reference = `DUE-${crypto.randomUUID().slice(0, 8)}-${i}`;
    const started = await client.initiateWeb({
      reference,
      amount: t.pkg.prices.USD,
      additionalInfo: "test",
      returnUrl: "http://127.0.0.1/pay/return",
      resultUrl: "http://127.0.0.1:9/api/paynow/result",
      authEmail: "merchant@hurukuro.example",
    });
    rows.push({
      user_id: t.userId,
      package_id: t.pkg.id,
      tokens: t.pkg.tokens,
      currency: "USD",
      amount: t.pkg.prices.USD,
      method: "web",
      reference,
      status: "sent",
      poll_url: started.pollUrl,
      next_poll_at: new Date(Date.now() - 1_000),
      expires_at: new Date(Date.now() + 30 * 60_000),
    });
  }
  const inserted = await sql`insert into payments ${sql(rows)} returning id, poll_url`;
  return inserted.map((r) => ({ id: r.id as string, pollUrl: r.poll_url as string }));
}

/** The app's payment deps with a Paynow client whose polls go through `poll`. */
function withPoll(
  deps: Payments,
  poll: (client: PaynowClient, pollUrl: string) => ReturnType<PaynowClient["poll"]>,
): Payments {
  const client = deps.paynow.clients.USD!;
  const wrapped = {
    poll: (pollUrl: string) => poll(client, pollUrl),
    trace: (trace: string) => client.trace(trace),
  } as unknown as PaynowClient;
  return { ...deps, paynow: { ...deps.paynow, clients: { USD: wrapped } } };
}

Deno.test("batch polling: claims never overlap, two batches at once poll each due payment once", async () => {
  await using t = await setup();
  const sql = t.app.server.db.sql;
  const due = await duePayments(t, 24);
  // Claims side by side take disjoint payments, and each only what is due.
  const [a, b] = await Promise.all([claimDuePolls(sql, 10), claimDuePolls(sql, 10)]);
  const c = await claimDuePolls(sql, 10);
  const claimed = [...a, ...b, ...c].map((r) => r.id as string);
  assert.equal(new Set(claimed).size, claimed.length, "no payment claimed twice");
  assert.equal(claimed.length, 24);
  assert.equal((await claimDuePolls(sql, 10)).length, 0, "claimed payments are not due");

  // Two ticks polling at once, in small batches.
  await sql`update payments set next_poll_at = now() - interval '1 second'
            where id = any(${due.map((d) => d.id)}::uuid[])`;
  const polls = new Map<string, number>();
  const deps = withPoll(t.app.server.payments, async (client, url) => {
    polls.set(url, (polls.get(url) ?? 0) + 1);
    await new Promise((r) => setTimeout(r, 5)); // let the other tick claim meanwhile
    return await client.poll(url);
  });
  const batches: string[][] = [];
  const onBatch = (ids: string[]) => void batches.push(ids);
  const counts = await Promise.all([
    pollDuePayments(deps, { batchSize: 5, batchesAtOnce: 2, onBatch }),
    pollDuePayments(deps, { batchSize: 5, batchesAtOnce: 2, onBatch }),
  ]);
  assert.equal(counts[0] + counts[1], 24);
  assert.deepEqual(
    due.map((d) => polls.get(d.pollUrl)),
    due.map(() => 1),
    "each payment polled exactly once",
  );
  const rows = await sql`select poll_count, next_poll_at > now() + interval '3 seconds' as later,
                                (select count(*)::int from payment_events e
                                 where e.payment_id = p.id and e.source = 'poll') as events
                         from payments p where id = any(${due.map((d) => d.id)}::uuid[])`;
  for (const r of rows) assert.deepEqual([r.poll_count, r.later, r.events], [1, true, 1]);
  // Each batch's next polls are due together (one tick for them), and every tick is queued.
  // (How two ticks split the payments depends on their timing: SKIP LOCKED claims side by
  // side may come back short.)
  assert.equal(batches.flat().length, 24);
  for (const ids of batches) {
    assert.ok(ids.length <= 5);
    const [{ n }] = await sql`select count(distinct next_poll_at)::int as n from payments
                              where id = any(${ids}::uuid[])`;
    assert.equal(n, 1, "a batch's next polls share one due time");
  }
  const next = await sql`select distinct next_poll_at from payments
                         where id = any(${due.map((d) => d.id)}::uuid[])`;
  assert.ok(next.length <= batches.length, `${next.length} due times, ${batches.length} batches`);
  for (const { next_poll_at } of next) {
    assert.ok(
      await tickQueued(t.app, next_poll_at),
      `the tick of ${next_poll_at.toISOString()} is queued`,
    );
  }
});

Deno.test("batch polling: a tick ahead of its slot claims first, polls each payment when due, and takes payments joining the slot meanwhile", async () => {
  await using t = await setup();
  const sql = t.app.server.db.sql;
  const [a, b, c, late] = await duePayments(t, 4);
  const dueAt = new Date(Date.now() + 1_500);
  await sql`update payments set next_poll_at = ${dueAt}
            where id = any(${[a.id, b.id, c.id]}::uuid[])`;
  // The fourth is not due in this slot yet: it joins it while the tick waits.
  await sql`update payments set next_poll_at = now() + interval '1 hour' where id = ${late.id}`;
  const sentAt = new Map<string, number>();
  const deps = withPoll(t.app.server.payments, (client, url) => {
    sentAt.set(url, Date.now());
    return client.poll(url);
  });
  const tick = pollDuePayments(deps, { at: pollTickAt(dueAt), batchSize: 2 });

  // Claimed ahead: their leases are in place well before they are due, nothing sent yet.
  const until = Date.now() + 1_000;
  let leased = 0;
  while (Date.now() < until && leased < 3) {
    [{ leased }] = await sql`select count(*)::int as leased from payments
                             where id = any(${[a.id, b.id, c.id]}::uuid[])
                               and poll_claim is not null`;
    if (leased < 3) await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(leased, 3, "claimed before their due time");
  assert.equal(sentAt.size, 0, "nothing polled before it is due");
  await sql`update payments set next_poll_at = ${dueAt} where id = ${late.id}`;

  assert.equal(await tick, 4, "the payment that joined the slot is polled by the same tick");
  for (const p of [a, b, c, late]) {
    const at = sentAt.get(p.pollUrl);
    assert.ok(at !== undefined, "polled");
    // Our clock and the database's are the same here; a few ms of timer rounding allowed.
    assert.ok(at >= dueAt.getTime() - 5, `polled ${dueAt.getTime() - at} ms before it was due`);
  }
  const rows = await sql`select poll_count from payments
                         where id = any(${[a.id, b.id, c.id, late.id]}::uuid[])`;
  assert.deepEqual(rows.map((r) => r.poll_count), [1, 1, 1, 1], "every answer recorded");
});

Deno.test("batch polling: a claim lasts 30 s unless renewed; a slow batch renews it and records its answer; a batch whose claim was taken over records nothing", async () => {
  await using t = await setup();
  const sql = t.app.server.db.sql;
  const [slow, taken] = await duePayments(t, 2);
  const leaseOf = async (id: string) =>
    (await sql`select next_poll_at from payments where id = ${id}`)[0].next_poll_at as Date;

  // A batch whose Paynow answer is slow: its claim is short, and renewed while it waits.
  let answer!: () => void;
  const answered = new Promise<void>((resolve) => answer = resolve);
  let asking!: () => void;
  const asked = new Promise<void>((resolve) => asking = resolve);
  const slowPaynow = withPoll(t.app.server.payments, async (client, url) => {
    asking();
    await answered;
    return client.poll(url);
  });
  await sql`update payments set next_poll_at = now() + interval '1 hour' where id = ${taken.id}`;
  const ticking = pollDuePayments(slowPaynow, { renewEveryMs: 50 });
  await asked;
  const first = await leaseOf(slow.id);
  const heldFor = first.getTime() - Date.now();
  assert.ok(heldFor > 20_000 && heldFor <= 31_000, `claimed for ${heldFor} ms`);
  const until = Date.now() + 5_000;
  while ((await leaseOf(slow.id)).getTime() <= first.getTime() && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok((await leaseOf(slow.id)).getTime() > first.getTime(), "the lease was renewed");
  answer();
  assert.equal(await ticking, 1);
  const [s] = await sql`select poll_count, poll_claim from payments where id = ${slow.id}`;
  assert.deepEqual([s.poll_count, s.poll_claim], [1, null], "answer recorded, claim released");

  // A batch that lost its claim (its lease ran out and another batch took the payment) records
  // nothing: the one holding it now does.
  await sql`update payments set next_poll_at = now() - interval '1 second' where id = ${taken.id}`;
  const stale = await claimDuePolls(sql);
  assert.equal(stale.length, 1);
  await sql`update payments set next_poll_at = now() - interval '1 second' where id = ${taken.id}`;
  const [holder] = await claimDuePolls(sql);
  assert.notEqual(holder.poll_claim, stale[0].poll_claim);
  const [outcome] = await pollClaimed(t.app.server.payments, stale);
  assert.equal(outcome.error, undefined);
  const [after] = await sql`select poll_count, poll_claim from payments where id = ${taken.id}`;
  assert.deepEqual([after.poll_count, after.poll_claim], [0, holder.poll_claim]);
  await pollClaimed(t.app.server.payments, [holder]);
  const [done] = await sql`select poll_count, poll_claim from payments where id = ${taken.id}`;
  assert.deepEqual([done.poll_count, done.poll_claim], [1, null]);
});

Deno.test("batch polling: a poll Paynow does not answer is rescheduled on its step and polled when due again", async () => {
  await using t = await setup();
  const sql = t.app.server.db.sql;
  const [down, up] = await duePayments(t, 2);
  const failing = withPoll(t.app.server.payments, (client, url) => {
    if (url === down.pollUrl) {
      return Promise.reject(new PaynowError("network", "Paynow did not answer"));
    }
    return client.poll(url);
  });
  const before = Date.now();
  assert.equal(await pollDuePayments(failing), 2);
  const [d] = await sql`select poll_count, next_poll_at from payments where id = ${down.id}`;
  assert.equal(d.poll_count, 0, "a failed poll does not count");
  const dueIn = d.next_poll_at.getTime() - before;
  assert.ok(dueIn >= 4_000 && dueIn <= 6_000, `asked again in ${dueIn} ms`);
  assert.ok(await tickQueued(t.app, d.next_poll_at), "its tick is queued");
  const [u] = await sql`select poll_count from payments where id = ${up.id}`;
  assert.equal(u.poll_count, 1, "the rest of the batch is recorded");
  assert.equal(t.app.logs.filter((l) => l.includes("Paynow polls failed")).length, 1);

  // Its time comes (moved here rather than waited for) and Paynow answers.
  await sql`update payments set next_poll_at = now() - interval '1 second' where id = ${down.id}`;
  assert.equal(await pollDuePayments(t.app.server.payments), 1);
  const [again] = await sql`select poll_count, status from payments where id = ${down.id}`;
  assert.deepEqual([again.poll_count, again.status], [1, "sent"]);
  const [{ n }] = await sql`select count(*)::int as n from payment_events
                            where payment_id = ${down.id} and source = 'poll'`;
  assert.equal(n, 1);
});

Deno.test("batch polling: a batch that died holding its claim is resumed by the reconciler; changed payments take the full path", async () => {
  await using t = await setup();
  const sql = t.app.server.db.sql;
  const [stuck, paid] = await duePayments(t, 2);
  // A batch claims both, then its process dies: nobody else polls them meanwhile.
  assert.equal((await claimDuePolls(sql)).length, 2);
  assert.equal(await pollDuePayments(t.app.server.payments), 0);
  assert.equal(await hasOverduePolls(sql), false);
  // The lease runs out (moved here rather than waited for); one was paid meanwhile.
  await sql`update payments set next_poll_at = now() - interval '1 minute'
            where id = any(${[stuck.id, paid.id]}::uuid[])`;
  const reference = (await sql`select reference from payments where id = ${paid.id}`)[0]
    .reference as string;
  await t.paynow.complete(reference, "Paid");
  assert.equal(await hasOverduePolls(sql), true);
  assert.equal(await t.app.server.queue.reconcile(), 1, "one tick queued");
  await waitForStatus(t.app, paid.id, "paid");
  const until = Date.now() + 10_000;
  let row;
  do {
    [row] = await sql`select poll_count, status from payments where id = ${stuck.id}`;
    if (row.poll_count === 1) break;
    await new Promise((r) => setTimeout(r, 50));
  } while (Date.now() < until);
  assert.deepEqual([row.poll_count, row.status], [1, "sent"]);
  assert.equal(await balance(t.app, t.auth), t.pkg.tokens, "credited once");
  const [{ n }] = await sql`select count(*)::int as n from ledger_entries
                            where kind = 'purchase_credit'`;
  assert.equal(n, 1);
});

Deno.test("the account page's top-up form buys tokens: express to the live status, web to Paynow, refusals on the form", async () => {
  await using t = await setup();
  const session = await createSession(t.app.server.db.sql, t.userId);
  const cookie = `hk_session=${session.token}`;
  const csrf = await csrfTokenFor(t.app.server.config.appSecret, session.token);
  const page = await (await t.app.fetch("/account", { headers: { cookie } })).text();
  assert.match(page, /id="top-up"/);
  assert.match(page, new RegExp(`value="${t.pkg.id}"`));
  const submit = (fields: Record<string, string>, withCsrf = true) =>
    t.app.fetch("/account/top-up", {
      method: "POST",
      redirect: "manual",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ ...(withCsrf ? { _csrf: csrf } : {}), ...fields }),
    });
  const nonce = "form-nonce-0123456789abcdef";
  const express = { packageId: t.pkg.id, method: "ecocash", phone: "0771111111", nonce };

  const refused = await submit(express, false);
  await refused.body?.cancel();
  assert.equal(refused.status, 403, "no CSRF token, no payment");

  const res = await submit(express);
  await res.body?.cancel();
  assert.equal(res.status, 303);
  const location = res.headers.get("location")!;
  const id = location.match(/^\/pay\/return\?payment=([0-9a-f-]{36})$/)?.[1];
  assert.ok(id, location);
  assert.match(await (await t.app.fetch(location)).text(), /data-testid="instructions"/);
  // The same form submitted twice starts one payment.
  const again = await submit(express);
  await again.body?.cancel();
  assert.equal(again.headers.get("location"), location);
  await waitForStatus(t.app, id, "paid");
  assert.equal(await balance(t.app, t.auth), t.pkg.tokens);

  const noPhone = await submit({ ...express, phone: "", nonce: "form-nonce-second-000000" });
  assert.equal(noPhone.status, 400);
  assert.match(await noPhone.text(), /Enter the mobile number that pays/);
  const paynowSays = await submit({
    ...express,
    phone: "0774444444",
    nonce: "form-nonce-third-0000000",
  });
  assert.equal(paynowSays.status, 400);
  assert.match(
    await paynowSays.text(),
    /Paynow could not start the payment: Insufficient balance/,
  );

  const web = await submit({
    packageId: t.pkg.id,
    method: "web",
    nonce: "form-nonce-web-00000000",
  });
  await web.body?.cancel();
  assert.equal(web.status, 303);
  assert.ok(web.headers.get("location")!.startsWith(t.paynow.url), web.headers.get("location")!);
  const count = await t.app.server.db.sql`select count(*)::int as n from payments
                                          where user_id = ${t.userId}`;
  assert.equal(count[0].n, 3, "express, Paynow's refusal (kept as failed) and web");
});
