/**
 * The fake Paynow, exercised by our client and by the official npm SDK (paynow@2.2.2): the test
 * numbers' outcomes, error replies, result POSTs (lost, duplicated, forged, retried), trace
 * recovery, capitalised keys, several integrations.
 *
 * The SDK hard-codes `https://www.paynow.co.zw/interface/...` for initiations (its constants
 * module, read at call time); it takes any poll URL. To point it at the fake we rewrite those two
 * constants on the SDK's own module instance for the duration of a test.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { Paynow } from "paynow";
import { PaynowClient } from "../paynow/client.ts";
import { PaynowError } from "../paynow/errors.ts";
import { paynowHash } from "../paynow/hash.ts";
import { type FakePaynow, type FakePaynowOptions, startFakePaynow } from "./paynow.ts";
import { SDK_INITIATE_FIELDS } from "../../tests/fixtures/paynow.ts";
import { rejection } from "../../tests/rejection.ts";

const ID = "1201";
const KEY = "3e9fed89-60e1-4ce5-ab6e-6b1eb2d4f977";
const SCALE = 0.01; // 5 s → 50 ms, 30 s → 300 ms

interface Merchant {
  resultUrl: string;
  bodies: string[];
  close(): Promise<void>;
}

/** The merchant's result URL: records bodies, answers `statusFor(n)` to the n-th POST. */
function startMerchant(statusFor: (n: number) => number = () => 200): Merchant {
  const bodies: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    bodies.push(await req.text());
    return new Response("ok", { status: statusFor(bodies.length) });
  });
  return {
    resultUrl: `http://127.0.0.1:${server.addr.port}/api/paynow/result`,
    bodies,
    close: () => server.shutdown(),
  };
}

interface World {
  fake: FakePaynow;
  merchant: Merchant;
  client: PaynowClient;
}

async function withFake(
  options: Partial<FakePaynowOptions> & { merchantStatus?: (n: number) => number },
  fn: (world: World) => Promise<void>,
): Promise<void> {
  const fake = await startFakePaynow({ integrations: { [ID]: KEY }, timeScale: SCALE, ...options });
  const merchant = startMerchant(options.merchantStatus);
  const client = new PaynowClient({
    integrationId: ID,
    integrationKey: KEY,
    baseUrl: fake.url,
    retryDelayMs: 5,
  });
  try {
    await fn({ fake, merchant, client });
  } finally {
    await fake.close();
    await merchant.close();
  }
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 3_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function checkout(merchant: Merchant, reference: string) {
  return {
    reference,
    amount: "5.00",
    additionalInfo: "500 tokens",
    returnUrl: `https://shop.example/pay/return?ref=${reference}`,
    resultUrl: merchant.resultUrl,
    authEmail: "shop@example.com",
  };
}

Deno.test("a web payment is paid on the fake's page and the merchant is told", async () => {
  await withFake({}, async ({ fake, merchant, client }) => {
    const started = await client.initiateWeb(checkout(merchant, "WEB-1"));
    assert.ok(started.browserUrl?.startsWith(fake.url), started.browserUrl);
    assert.equal((await client.poll(started.pollUrl)).outcome, "pending");

    const page = await fetch(started.browserUrl!);
    const html = await page.text();
    assert.match(html, /WEB-1/);
    assert.match(html, /<b id="amount">5\.00<\/b>/);

    const paid = await fetch(started.browserUrl!, {
      method: "POST",
      body: new URLSearchParams({ action: "pay" }),
      redirect: "manual",
    });
    await paid.body?.cancel();
    assert.equal(paid.status, 303);
    assert.equal(paid.headers.get("location"), "https://shop.example/pay/return?ref=WEB-1");

    await fake.settled();
    assert.equal(merchant.bodies.length, 1);
    const result = client.parseResultPost(merchant.bodies[0]);
    assert.equal(result.status, "Paid");
    assert.equal(result.reference, "WEB-1");
    assert.equal(result.pollUrl, started.pollUrl);
    const polled = await client.poll(started.pollUrl);
    assert.equal(polled.outcome, "paid");
    assert.equal(polled.paynowReference, started.paynowReference);
  });
});

Deno.test("each test-mode number ends as Paynow's test mode says, at the scaled time", async () => {
  await withFake({}, async ({ fake, merchant, client }) => {
    const express = (phone: string) =>
      client.initiateExpress({
        ...checkout(merchant, `EXP-${phone}`),
        phone,
        method: "ecocash",
      });
    const [fast, slow, cancelled] = await Promise.all([
      express("0771111111"),
      express("0772222222"),
      express("0773333333"),
    ]);
    const refused = await rejection(express("0774444444"), PaynowError);
    assert.equal(refused.code, "rejected");
    assert.equal(refused.paynowError, "Insufficient balance");
    assert.equal(fake.payment("EXP-0774444444"), undefined, "no transaction for a refusal");
    assert.match(fast.instructions ?? "", /0771111111/);

    for (const started of [fast, slow, cancelled]) {
      assert.equal((await client.poll(started.pollUrl)).status, "Sent");
    }
    await waitFor("the 5 s number to pay", async () => {
      const s = await client.poll(fast.pollUrl);
      return s.outcome === "paid" ? s : undefined;
    });
    assert.equal((await client.poll(slow.pollUrl)).outcome, "pending", "30 s is not over yet");
    assert.equal((await client.poll(cancelled.pollUrl)).outcome, "pending");
    await waitFor("the 30 s numbers to settle", async () => {
      const s = await client.poll(cancelled.pollUrl);
      return s.outcome === "pending" ? undefined : s;
    });
    await waitFor("the slow number to pay", async () => {
      const s = await client.poll(slow.pollUrl);
      return s.outcome === "paid" ? s : undefined;
    });
    assert.equal((await client.poll(cancelled.pollUrl)).status, "Cancelled");

    const took = (reference: string) => {
      const { history } = fake.payment(reference)!;
      return history[1].at - history[0].at;
    };
    assert.ok(took("EXP-0771111111") >= 5_000 * SCALE, `${took("EXP-0771111111")} ms`);
    assert.ok(took("EXP-0772222222") >= 30_000 * SCALE, `${took("EXP-0772222222")} ms`);
    assert.ok(took("EXP-0773333333") >= 30_000 * SCALE, `${took("EXP-0773333333")} ms`);
    await fake.settled();
    const statuses = merchant.bodies.map((b) => client.parseResultPost(b))
      .map((s) => `${s.reference}:${s.status}`).sort();
    assert.deepEqual(statuses, [
      "EXP-0771111111:Paid",
      "EXP-0772222222:Paid",
      "EXP-0773333333:Cancelled",
    ]);
  });
});

Deno.test("an express payment settled by complete() is not reopened by its test number", async () => {
  await withFake({}, async ({ fake, merchant, client }) => {
    const started = await client.initiateExpress({
      ...checkout(merchant, "EARLY-1"),
      phone: "0771111111",
      method: "ecocash",
    });
    await fake.complete("EARLY-1", "Cancelled");
    await new Promise((r) => setTimeout(r, 5_000 * SCALE * 3));
    assert.equal((await client.poll(started.pollUrl)).status, "Cancelled");
    assert.deepEqual(fake.payment("EARLY-1")!.history.map((h) => h.status), ["Sent", "Cancelled"]);
  });
});

Deno.test("an InnBucks checkout answers with an authorisation code", async () => {
  await withFake({}, async ({ merchant, client }) => {
    const started = await client.initiateExpress({
      ...checkout(merchant, "INN-1"),
      phone: "0772222222",
      method: "innbucks",
    });
    assert.match(started.authorizationCode ?? "", /^\d{9}$/);
    assert.ok(started.authorizationExpires, "with its expiry");
    assert.equal(started.recovered, false);
  });
});

Deno.test("the fake refuses bad hashes and unknown integrations the way Paynow says it", async () => {
  await withFake(
    { integrations: { [ID]: KEY, "2402": "2f7c1b1e-0000-4000-8000-000000000000" } },
    async ({ fake }) => {
      const fields: Array<[string, string]> = [
        ["resulturl", "http://shop.example/result"],
        ["returnurl", "http://shop.example/return"],
        ["reference", "BAD-1"],
        ["amount", "1.00"],
        ["id", ID],
        ["additionalinfo", ""],
        ["authemail", ""],
        ["status", "Message"],
      ];
      const send = async (id: string, key: string, hash?: string) => {
        const body = new URLSearchParams(
          fields.map(([n, v]): [string, string] => [n, n === "id" ? id : v]),
        );
        const signedFields = [...body] as Array<[string, string]>;
        body.append("hash", hash ?? paynowHash(signedFields, key));
        const response = await fetch(`${fake.url}/interface/initiatetransaction`, {
          method: "POST",
          body,
        });
        return new URLSearchParams(await response.text());
      };

      const expected = paynowHash(fields, KEY);
      const badHash = await send(ID, KEY, "0".repeat(128));
      assert.equal(badHash.get("status"), "Error");
      assert.equal(
        badHash.get("error"),
        `Invalid Hash.  Hash should start with: ${expected.slice(0, 6)}`,
      );
      assert.equal(badHash.get("hash"), null, "an Error carries no hash");

      const otherKey = await send("2402", KEY);
      assert.match(
        otherKey.get("error") ?? "",
        /^Invalid Hash\./,
        "id 2402 signed with 1201's key",
      );
      assert.equal((await send("9999", KEY)).get("error"), "Invalid Id.");
      assert.equal((await send(ID, KEY)).get("status"), "Ok");
      assert.deepEqual(fake.requests.map((r) => r.answered), ["Error", "Error", "Error", "Ok"]);
      assert.equal(fake.payments.length, 1);
    },
  );
});

Deno.test("lost result POSTs leave polling to settle the payment", async () => {
  await withFake({ behaviour: { loseResultPosts: true } }, async ({ fake, merchant, client }) => {
    const started = await client.initiateWeb(checkout(merchant, "LOST-1"));
    await fake.complete("LOST-1", "Paid");
    await fake.settled();
    assert.equal(merchant.bodies.length, 0);
    assert.deepEqual(fake.resultPosts.map((p) => p.lost), [true]);
    assert.equal((await client.poll(started.pollUrl)).outcome, "paid");
  });
});

Deno.test("duplicate result POSTs arrive as identical, genuine copies", async () => {
  await withFake(
    { behaviour: { duplicateResultPosts: 4 } },
    async ({ fake, merchant, client }) => {
      await client.initiateWeb(checkout(merchant, "DUP-1"));
      await fake.complete("DUP-1", "Paid");
      assert.equal(merchant.bodies.length, 5);
      assert.equal(new Set(merchant.bodies).size, 1);
      assert.equal(client.parseResultPost(merchant.bodies[0]).outcome, "paid");
    },
  );
});

Deno.test("a forged result POST is refused by the client, the genuine one accepted", async () => {
  await withFake({ behaviour: { forgeResultPosts: true } }, async ({ fake, merchant, client }) => {
    await client.initiateWeb(checkout(merchant, "FORGE-1"));
    await fake.complete("FORGE-1", "Cancelled");
    assert.equal(merchant.bodies.length, 2);
    const [forged, genuine] = merchant.bodies;
    assert.match(forged, /status=Paid/);
    assert.throws(
      () => client.parseResultPost(forged),
      (e) => e instanceof PaynowError && e.code === "invalid_hash",
    );
    assert.equal(client.parseResultPost(genuine).status, "Cancelled");

    await fake.postResult("FORGE-1", { forged: true, status: "Paid" });
    assert.throws(() => client.parseResultPost(merchant.bodies[2]), PaynowError);
    assert.deepEqual(fake.resultPosts.map((p) => p.forged), [true, false, true]);
  });
});

Deno.test("result POSTs are retried while the merchant answers with an error", async () => {
  await withFake(
    { merchantStatus: (n) => n <= 2 ? 500 : 200 },
    async ({ fake, merchant, client }) => {
      await client.initiateWeb(checkout(merchant, "RETRY-1"));
      await fake.complete("RETRY-1");
      assert.deepEqual(fake.resultPosts.map((p) => [p.attempt, p.httpStatus]), [
        [1, 500],
        [2, 500],
        [3, 200],
      ]);
      assert.equal(merchant.bodies.length, 3);
    },
  );
});

Deno.test("answers with capitalised keys are read by our client", async () => {
  await withFake({ behaviour: { capitaliseKeys: true } }, async ({ fake, merchant, client }) => {
    const started = await client.initiateWeb(checkout(merchant, "CAPS-1"));
    assert.ok(fake.requests[0].reply.startsWith("Status=Ok&Browserurl="), fake.requests[0].reply);
    await fake.complete("CAPS-1", "Awaiting Delivery");
    assert.equal((await client.poll(started.pollUrl)).outcome, "paid");
    assert.equal(client.parseResultPost(merchant.bodies[0]).status, "Awaiting Delivery");
  });
});

Deno.test("an initiation answer lost to a timeout is recovered by trace, not re-sent", async () => {
  await withFake(
    { behaviour: { initiateReplyDelayMs: 400 } },
    async ({ fake, merchant }) => {
      const impatient = new PaynowClient({
        integrationId: ID,
        integrationKey: KEY,
        baseUrl: fake.url,
        timeoutMs: 100,
        retryDelayMs: 5,
      });
      const started = await impatient.initiateExpress({
        ...checkout(merchant, "SLOW-1"),
        phone: "0771111111",
        method: "onemoney",
      });
      assert.equal(started.recovered, true);
      assert.equal(fake.payments.length, 1);
      assert.equal(started.pollUrl, fake.payments[0].pollUrl);
      assert.equal(
        fake.requests.filter((r) => r.path.endsWith("/remotetransaction")).length,
        1,
      );
      assert.equal(fake.requests.filter((r) => r.path.endsWith("/trace")).length, 1);
    },
  );
});

Deno.test("two integrations keep their keys and references apart", async () => {
  const zigKey = "0a1b2c3d-aaaa-4bbb-8ccc-111122223333";
  await withFake({ integrations: { [ID]: KEY, "2402": zigKey } }, async ({ fake, merchant }) => {
    const usd = new PaynowClient({ integrationId: ID, integrationKey: KEY, baseUrl: fake.url });
    const zig = new PaynowClient({
      integrationId: "2402",
      integrationKey: zigKey,
      baseUrl: fake.url,
    });
    const a = await usd.initiateWeb(checkout(merchant, "SAME-1"));
    const b = await zig.initiateWeb({ ...checkout(merchant, "SAME-1"), amount: "130.00" });
    assert.notEqual(a.pollUrl, b.pollUrl);
    assert.equal(fake.payment("SAME-1", "2402")?.amount, "130.00");
    assert.equal(fake.payment("SAME-1", ID)?.amount, "5.00");
    const error = await rejection(zig.poll(a.pollUrl), PaynowError);
    assert.equal(error.code, "invalid_hash", "USD's poll answer is not signed with ZiG's key");
    assert.equal((await zig.poll(b.pollUrl)).amount, "130.00");
  });
});

// --- the official SDK against the fake --------------------------------------------------------

const sdkConstants = createRequire(import.meta.url)("paynow/dist/constants.js");

/**
 * Runs `fn` with the official SDK signing with `key`, its hard-coded initiation URLs pointed at a
 * fresh fake while `fn` runs.
 */
async function withSdk(
  key: string,
  fn: (world: Omit<World, "client"> & { sdk: Paynow }) => Promise<void>,
): Promise<void> {
  await withFake({}, async ({ fake, merchant }) => {
    const saved = {
      web: sdkConstants.URL_INITIATE_TRANSACTION,
      mobile: sdkConstants.URL_INITIATE_MOBILE_TRANSACTION,
    };
    sdkConstants.URL_INITIATE_TRANSACTION = `${fake.url}/interface/initiatetransaction`;
    sdkConstants.URL_INITIATE_MOBILE_TRANSACTION = `${fake.url}/interface/remotetransaction`;
    try {
      const sdk = new Paynow(ID, key, merchant.resultUrl, "https://shop.example/return");
      await fn({ sdk, fake, merchant });
    } finally {
      sdkConstants.URL_INITIATE_TRANSACTION = saved.web;
      sdkConstants.URL_INITIATE_MOBILE_TRANSACTION = saved.mobile;
    }
  });
}

Deno.test("the official SDK's web checkout is accepted by the fake and verifies its answer", async () => {
  await withSdk(KEY, async ({ sdk, fake, merchant }) => {
    const payment = sdk.createPayment("Invoice 35", "");
    payment.add("500 tokens", 5.5);
    const response = await sdk.send(payment);
    assert.equal(response?.success, true, JSON.stringify(response));
    assert.equal(response.redirectUrl, fake.payments[0].browserUrl);
    assert.equal(response.pollUrl, fake.payments[0].pollUrl);

    // The SDK's quirks, as Paynow receives them: values encodeURI'd before hashing and then
    // form-encoded again by axios (so Paynow stores "Invoice%2035"), the amount without two
    // decimals, and the cart summary's last character cut off.
    const received = fake.requests[0].values;
    assert.equal(received.reference, "Invoice%2035");
    assert.equal(received.amount, "5.5");
    assert.equal(received.additionalinfo, "500%20token");
    assert.deepEqual(fake.requests[0].fields.map(([n]) => n), SDK_INITIATE_FIELDS);

    await fake.complete("Invoice%2035", "Paid");
    const update = sdk.parseStatusUpdate(merchant.bodies[0]);
    assert.equal(update.status, "Paid");
    assert.equal(update.amount, "5.50");
  });
});

Deno.test("the official SDK's express checkout follows the test numbers on the fake", async () => {
  await withSdk(KEY, async ({ sdk, fake }) => {
    const payment = sdk.createPayment("SDK-EXPRESS", "shop@example.com");
    payment.add("tokens", 2);
    const response = await sdk.sendMobile(payment, "0771111111", "ecocash");
    assert.equal(response?.success, true, JSON.stringify(response));
    assert.match(response.instructions, /0771111111/);

    const polled = await waitFor("the SDK to see Paid", async () => {
      const r = await sdk.pollTransaction(response.pollUrl);
      return r.status === "paid" ? r : undefined;
    });
    assert.equal(polled.status, "paid", "the SDK lower-cases statuses when polling");

    const refused = await sdk.sendMobile(
      sdk.createPayment("SDK-BROKE", "shop@example.com").add("tokens", 2),
      "0774444444",
      "ecocash",
    );
    assert.equal(refused.success, false);
    assert.equal(refused.error, "Insufficient balance");
    assert.equal(fake.payments.length, 1);
  });
});

Deno.test("the official SDK signing with the wrong key gets Paynow's Invalid Hash error", async () => {
  await withSdk("not-the-key", async ({ sdk, fake }) => {
    const response = await sdk.send(sdk.createPayment("SDK-BAD", "").add("tokens", 1));
    assert.equal(response.success, false);
    assert.match(response.error, /^Invalid Hash\. {2}Hash should start with: [0-9A-F]{6}$/);
    assert.equal(fake.payments.length, 0);
  });
});
