/**
 * The client against a scripted `fetch`: what it sends, what it accepts, how it fails and retries.
 * Replies are signed with the official SDK's `generateHash`, not with our own hash code. The
 * client against a live fake Paynow (and the SDK against the same fake) is in
 * lib/sandbox/paynow_test.ts.
 */
import assert from "node:assert/strict";
import { Paynow } from "paynow";
import { formatAmount, PaynowClient } from "./client.ts";
import { PaynowError } from "./errors.ts";
import { OUR_INITIATE_FIELDS } from "../../tests/fixtures/paynow.ts";

const ID = "1201";
const KEY = "3e9fed89-60e1-4ce5-ab6e-6b1eb2d4f977";
const BASE = "https://paynow.test";
const POLL_URL = `${BASE}/Interface/CheckPayment/?guid=abc`;
const sdk = new Paynow(ID, KEY, "", "");

/** A form body signed by the SDK, in the given order. */
function signedBySdk(fields: Record<string, string>, key = KEY): string {
  return new URLSearchParams({ ...fields, hash: sdk.generateHash(fields, key) }).toString();
}

const statusReply = (status: string, reference = "HK-1") =>
  signedBySdk({
    reference,
    paynowreference: "9876",
    amount: "5.00",
    status,
    pollurl: POLL_URL,
  });

type Script = (url: string, body: string, signal: AbortSignal) => Response | Promise<Response>;

/** A fetch that answers from `script` in turn and records every call. */
function scripted(...script: Script[]) {
  const calls: Array<{ url: string; body: string }> = [];
  const fetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    const body = String(init?.body ?? "");
    calls.push({ url, body });
    const step = script[Math.min(calls.length, script.length) - 1];
    return Promise.resolve(step(url, body, init!.signal!));
  };
  return { calls, fetch: fetch as typeof globalThis.fetch };
}

const reply = (body: string, status = 200): Script => () => new Response(body, { status });
const networkDown: Script = () => {
  throw new TypeError("error sending request: Connection refused");
};
const hangs: Script = (_url, _body, signal) =>
  new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));

function client(fetch: typeof globalThis.fetch, extra: Partial<{ timeoutMs: number }> = {}) {
  return new PaynowClient({
    integrationId: ID,
    integrationKey: KEY,
    baseUrl: `${BASE}/`,
    retries: 2,
    retryDelayMs: 1,
    fetch,
    ...extra,
  });
}

const web = {
  reference: "HK-1",
  amount: 5,
  additionalInfo: "500 tokens",
  returnUrl: "https://shop.example/pay/return?id=1",
  resultUrl: "https://shop.example/api/paynow/result",
};
const express = {
  ...web,
  authEmail: "shop@example.com",
  phone: "+263 77 111 1111",
  method: "ecocash" as const,
};

async function rejects(promise: Promise<unknown>, code: string): Promise<PaynowError> {
  const error = await promise.then(() => undefined, (e) => e);
  assert.ok(error instanceof PaynowError, `expected a PaynowError, got ${error}`);
  assert.equal(error.code, code, error.message);
  return error;
}

Deno.test("initiateWeb sends the SDK's field order, form-encoded and signed", async () => {
  const browserUrl = `${BASE}/Payment/ConfirmPayment/abc`;
  const { calls, fetch } = scripted(
    reply(signedBySdk({ status: "Ok", browserurl: browserUrl, pollurl: POLL_URL })),
  );
  const started = await client(fetch).initiateWeb(web);

  assert.equal(calls.length, 1);
  assert.equal(calls[0].url, `${BASE}/interface/initiatetransaction`);
  const sent = [...new URLSearchParams(calls[0].body)];
  assert.deepEqual(sent.map(([n]) => n), OUR_INITIATE_FIELDS);
  const values = Object.fromEntries(sent);
  assert.equal(values.amount, "5.00");
  assert.equal(values.returnurl, web.returnUrl);
  assert.equal(values.merchanttrace, "HK-1");
  assert.equal(values.status, "Message");
  const { hash, ...unsigned } = values;
  assert.equal(hash, sdk.generateHash(unsigned, KEY), "the SDK agrees with the hash we sent");

  assert.equal(started.browserUrl, browserUrl);
  assert.equal(started.pollUrl, POLL_URL);
  assert.equal(started.recovered, false);
});

Deno.test("initiateExpress sends phone and method after authemail, the phone in local form", async () => {
  const { calls, fetch } = scripted(
    reply(signedBySdk({
      status: "Ok",
      instructions: "Dial *151*2*4#",
      pollurl: POLL_URL,
      paynowreference: "9876",
    })),
  );
  const started = await client(fetch).initiateExpress({ ...express, merchantTrace: "T-1" });
  assert.equal(calls[0].url, `${BASE}/interface/remotetransaction`);
  const sent = [...new URLSearchParams(calls[0].body)];
  assert.deepEqual(sent.slice(6, 10), [
    ["authemail", "shop@example.com"],
    ["phone", "0771111111"],
    ["method", "ecocash"],
    ["merchanttrace", "T-1"],
  ]);
  assert.equal(started.instructions, "Dial *151*2*4#");
  assert.equal(started.paynowReference, "9876");
});

Deno.test("an Error reply is surfaced with Paynow's text, without a hash to check", async () => {
  const { fetch } = scripted(reply("status=Error&error=Insufficient+balance"));
  const error = await rejects(client(fetch).initiateExpress(express), "rejected");
  assert.equal(error.paynowError, "Insufficient balance");
  assert.match(error.message, /Insufficient balance/);
});

Deno.test("an Ok reply with a wrong or missing hash is refused", async () => {
  const good = { status: "Ok", browserurl: `${BASE}/p`, pollurl: POLL_URL };
  const forged = scripted(reply(signedBySdk(good, "some-other-key")));
  await rejects(client(forged.fetch).initiateWeb(web), "invalid_hash");
  const unsigned = scripted(reply(new URLSearchParams(good).toString()));
  await rejects(client(unsigned.fetch).initiateWeb(web), "invalid_hash");
  const tampered = signedBySdk(good).replace("pollurl=", "pollurl=https%3A%2F%2Fevil.example");
  await rejects(client(scripted(reply(tampered)).fetch).initiateWeb(web), "invalid_hash");
});

Deno.test("capitalised keys from old integrations are read", async () => {
  const body = signedBySdk({ Status: "Ok", BrowserUrl: `${BASE}/p`, PollUrl: POLL_URL })
    .replace("hash=", "Hash=");
  const started = await client(scripted(reply(body)).fetch).initiateWeb(web);
  assert.equal(started.browserUrl, `${BASE}/p`);
  assert.equal(started.pollUrl, POLL_URL);
});

Deno.test("invalid input is refused before anything is sent", async () => {
  const { calls, fetch } = scripted(reply(""));
  const c = client(fetch);
  await rejects(c.initiateExpress({ ...express, phone: "0242 123456" }), "invalid_request");
  await rejects(c.initiateExpress({ ...express, authEmail: "" }), "invalid_request");
  await rejects(c.initiateWeb({ ...web, amount: 0 }), "invalid_request");
  await rejects(c.initiateWeb({ ...web, resultUrl: "javascript:alert(1)" }), "invalid_request");
  await rejects(c.initiateWeb({ ...web, reference: "R".repeat(33) }), "invalid_request");
  await rejects(c.poll("https://evil.example/Interface/CheckPayment/?guid=abc"), "invalid_request");
  assert.equal(calls.length, 0);
});

Deno.test("poll returns the verified status with its outcome", async () => {
  const { calls, fetch } = scripted(reply(statusReply("Awaiting Delivery")));
  const status = await client(fetch).poll(POLL_URL);
  assert.equal(calls[0].url, POLL_URL);
  assert.equal(calls[0].body, "");
  assert.equal(status.status, "Awaiting Delivery");
  assert.equal(status.outcome, "paid");
  assert.equal(status.reference, "HK-1");
  assert.equal(status.paynowReference, "9876");
  assert.equal(status.amount, "5.00");
});

Deno.test("poll retries network errors, then gives up with a network error", async () => {
  const flaky = scripted(networkDown, networkDown, reply(statusReply("Paid")));
  assert.equal((await client(flaky.fetch).poll(POLL_URL)).outcome, "paid");
  assert.equal(flaky.calls.length, 3);

  const down = scripted(networkDown);
  const error = await rejects(client(down.fetch).poll(POLL_URL), "network");
  assert.equal(down.calls.length, 3, "one attempt and two retries");
  assert.match(error.message, /Connection refused/);
});

Deno.test("poll gives up on a silent Paynow after its timeout", async () => {
  const silent = scripted(hangs);
  const started = Date.now();
  const error = await rejects(client(silent.fetch, { timeoutMs: 30 }).poll(POLL_URL), "network");
  assert.match(error.message, /no answer within 30 ms/);
  assert.equal(silent.calls.length, 3);
  assert.ok(Date.now() - started < 2_000);
});

Deno.test("an HTTP error status is not retried", async () => {
  const { calls, fetch } = scripted(reply("oops", 500));
  const error = await rejects(client(fetch).poll(POLL_URL), "http_error");
  assert.equal(error.httpStatus, 500);
  assert.equal(calls.length, 1);
});

Deno.test("a lost initiation answer is never re-sent: trace recovers the transaction", async () => {
  const { calls, fetch } = scripted(networkDown, reply(statusReply("Sent")));
  const started = await client(fetch).initiateExpress(express);
  assert.deepEqual(calls.map((c) => new URL(c.url).pathname), [
    "/interface/remotetransaction",
    "/interface/trace",
  ]);
  const trace = [...new URLSearchParams(calls[1].body)];
  assert.deepEqual(trace.map(([n]) => n), ["id", "merchanttrace", "status", "hash"]);
  assert.equal(trace[1][1], "HK-1");
  assert.equal(started.recovered, true);
  assert.equal(started.pollUrl, POLL_URL);
  assert.equal(started.instructions, undefined);
});

Deno.test("a lost initiation that trace cannot find may be initiated again", async () => {
  const { calls, fetch } = scripted(hangs, reply("status=NotFound"));
  const error = await rejects(
    client(fetch, { timeoutMs: 20 }).initiateWeb(web),
    "network",
  );
  assert.equal(error.transactionCreated, false);
  assert.equal(calls.filter((c) => c.url.endsWith("/initiatetransaction")).length, 1);
});

Deno.test("a lost initiation whose trace fails too is reported as unknown", async () => {
  const { calls, fetch } = scripted(networkDown);
  const error = await rejects(client(fetch).initiateWeb(web), "network");
  assert.equal(error.transactionCreated, "unknown");
  assert.equal(calls.filter((c) => c.url.endsWith("/initiatetransaction")).length, 1);
  assert.equal(calls.filter((c) => c.url.endsWith("/trace")).length, 3, "trace is retried");
});

Deno.test("trace answers null when Paynow has no such transaction", async () => {
  const { fetch } = scripted(reply("status=NotFound"));
  assert.equal(await client(fetch).trace("HK-404"), null);
});

Deno.test("parseResultPost accepts only messages signed with our key", () => {
  const c = client(scripted().fetch);
  const status = c.parseResultPost(statusReply("Cancelled"));
  assert.equal(status.outcome, "cancelled");
  assert.equal(status.pollUrl, POLL_URL);
  assert.throws(
    () => c.parseResultPost(signedBySdk({ reference: "HK-1", status: "Paid" }, "wrong")),
    (e) => e instanceof PaynowError && e.code === "invalid_hash",
  );
  assert.throws(
    () => c.parseResultPost("status=Error&error=whatever"),
    (e) => e instanceof PaynowError && e.code === "invalid_hash",
    "an unsigned Error is not a result",
  );
  assert.throws(
    () => c.parseResultPost(signedBySdk({ status: "Paid" })),
    (e) => e instanceof PaynowError && e.code === "malformed",
  );
});

Deno.test("formatAmount writes two decimals and refuses what is not an amount", () => {
  assert.equal(formatAmount(5), "5.00");
  assert.equal(formatAmount(5.5), "5.50");
  assert.equal(formatAmount("0.07"), "0.07");
  assert.equal(formatAmount(" 12.3 "), "12.30");
  assert.equal(formatAmount("1000000000000000001.99"), "1000000000000000001.99");
  for (const bad of [0, -1, 1.005, Number.NaN, Infinity, "", "1,00", "1.234", "-2", "0.00"]) {
    assert.throws(() => formatAmount(bad), PaynowError, String(bad));
  }
});
