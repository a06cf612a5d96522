/**
 * Paynow's status messages under generated hostile content that is correctly signed (the hash
 * made by the fake Paynow's own code): field names in any case, fields missing or repeated,
 * values with NUL, lone surrogates, huge text, several hashes.
 *
 * - The parser returns a status or throws a PaynowError: nothing else escapes.
 * - The result URL never answers 5xx, and valid result POSTs sent at the same moment are all
 *   accepted.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { announceSeed, fuzzParams } from "./settings.ts";
import { nasty } from "./hostile_webhooks.ts";
import { parseStatusMessage, PaynowError, paynowOutcome } from "../../lib/paynow/mod.ts";
import { signedPaynowBody, startFakePaynow } from "../../lib/sandbox/paynow.ts";
import { startTestApp } from "../harness.ts";
import { paynowEnv } from "../fixtures/paynow.ts";

announceSeed("tests/fuzz/paynow_test.ts");

const KEY = "3e9fed89-60e1-4ce5-ab6e-6b1eb2d4f977";
const text = nasty(20_000);
const NAMES = ["reference", "amount", "paynowreference", "pollurl", "status", "hash", "error"];

/** A name as an old integration may spell it: any letter upper-cased. */
const fieldName = fc.oneof(
  fc.tuple(fc.constantFrom(...NAMES), fc.array(fc.boolean(), { maxLength: 16 })).map((
    [name, upper],
  ) => [...name].map((c, i) => upper[i] ? c.toUpperCase() : c).join("")),
  text.filter((n) => n.length < 100),
);

const fieldValue = fc.oneof(
  text,
  fc.constantFrom("Paid", "Cancelled", "Error", "Awaiting Delivery", "created but not paid", ""),
);

/** Fields in order; signed (with the correct hash of what is there), or sent as they are. */
const message = (references: fc.Arbitrary<string>) =>
  fc.tuple(
    fc.array(fc.tuple(fieldName, fieldValue), { maxLength: 10 }),
    fc.option(references, { nil: undefined }),
    fc.constantFrom("signed", "signed", "signed", "unsigned", "two hashes"),
  ).map(([fields, reference, form]) => {
    const all: [string, string][] = reference === undefined
      ? fields
      : [["reference", reference], ...fields];
    if (form === "unsigned") return new URLSearchParams(all).toString();
    const body = signedPaynowBody(all, KEY);
    return form === "two hashes" ? `${body}&hash=${"A".repeat(128)}` : body;
  });

Deno.test("fuzz: a Paynow status message gives a status or a PaynowError, nothing else", () => {
  fc.assert(
    fc.property(message(text), fc.boolean(), (body, errorAllowed) => {
      try {
        const status = parseStatusMessage(body, KEY, { errorAllowed });
        assert.equal(typeof status.reference, "string");
        assert.ok(
          ["paid", "pending", "cancelled", "failed", "unknown"].includes(status.outcome),
        );
      } catch (error) {
        if (!(error instanceof PaynowError)) throw error;
      }
    }),
    fuzzParams({ numRuns: fuzzParams().numRuns! * 20 }),
  );
  fc.assert(
    fc.property(text, (status) => void paynowOutcome(status)),
    fuzzParams({ numRuns: fuzzParams().numRuns! * 20 }),
  );
});

Deno.test("fuzz: hostile signed result POSTs never get a 5xx, and valid ones beside them are accepted", async () => {
  const paynow = await startFakePaynow({ integrations: { "1201": KEY }, timeScale: 0.01 });
  const app = await startTestApp({
    env: paynowEnv(paynow.url, KEY),
  });
  try {
    const signup = await app.fetch("/api/v1/auth/signup", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "fuzz-buyer@example.com", password: "long enough" }),
    });
    const { accessToken } = await signup.json();
    const auth = { authorization: `Bearer ${accessToken}` };
    const [pkg] = (await (await app.fetch("/api/v1/packages")).json()).packages;
    const payments: { reference: string; amount: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await app.fetch("/api/v1/payments", {
        method: "POST",
        headers: { "content-type": "application/json", ...auth },
        body: JSON.stringify({ packageId: pkg.id, method: "web" }),
      });
      assert.equal(res.status, 201, await res.clone().text());
      payments.push(await res.json());
    }
    const references = fc.oneof(
      fc.constantFrom(...payments.map((p) => p.reference)),
      fc.constantFrom(...payments.map((p) => `${p.reference}\u0000`)),
      text,
    );
    const post = async (body: string) => {
      const res = await app.fetch("/api/paynow/result", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body,
      });
      return { status: res.status, text: await res.text() };
    };
    await fc.assert(
      fc.asyncProperty(
        fc.array(message(references), { minLength: 1, maxLength: 4 }),
        fc.constantFrom(...payments),
        fc.constantFrom("Sent", "Created", "Awaiting Redirect"),
        async (hostile, payment, status) => {
          const valid = signedPaynowBody([
            ["reference", payment.reference],
            ["paynowreference", "12345"],
            ["amount", String(payment.amount)],
            ["status", status],
            ["pollurl", `${paynow.url}/interface/poll?guid=fuzz`],
          ], KEY);
          const answers = await Promise.all([...hostile, valid].map(post));
          const statuses = answers.map((a) => a.status);
          assert.ok(statuses.every((s) => s < 500), `${statuses}`);
          assert.deepEqual(answers.at(-1), { status: 200, text: "OK" });
        },
      ),
      fuzzParams(),
    );
  } finally {
    await app.close();
    await paynow.close();
  }
});
