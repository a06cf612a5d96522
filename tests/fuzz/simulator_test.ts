/**
 * The WhatsApp simulator's endpoints (routes/admin/simulator.tsx) under hostile input: generated
 * JSON bodies for `POST /admin/api/simulator/send` (fields mostly right, often hostile: NUL, lone
 * surrogates, a megabyte, wrong types, deep nesting, unknown fields, replies to made-up
 * messages), raw bodies and other content types, a right or wrong CSRF token, as an admin, a
 * customer or nobody; and hostile `phone` values for the thread. Every answer is below 500 and
 * shows no stack trace; an admin's refusals are the JSON envelope with a message. Afterwards the
 * bot answered every delivery that was taken (nothing failed, no job died).
 *
 * The page itself (`/admin/simulator?phone=…`) is walked with the others in forms_test.ts.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { startTestApp } from "../harness.ts";
import { signedIn } from "../fixtures/forms.ts";
import { createUser } from "../../lib/accounts/users.ts";
import { hostileShortString, hostileString, hostileValue, MEGABYTE } from "./hostile.ts";
import { announceSeed, fuzzParams } from "./settings.ts";

announceSeed("tests/fuzz/simulator_test.ts");

const ADMIN = { email: "fuzz-admin@example.com", password: "a long admin passphrase" };

/** A field: mostly plausible, often hostile. */
const field = (plausible: fc.Arbitrary<unknown>) =>
  fc.oneof({ weight: 3, arbitrary: plausible }, { weight: 2, arbitrary: hostileValue });

const phones = fc.constantFrom("+263771111111", "0771111111", "+263 77 200 0001", "+1", "12");

const sendBody: fc.Arbitrary<unknown> = fc.oneof(
  {
    // A well-formed text to a valid number, its text often hostile.
    weight: 3,
    arbitrary: fc.record({
      phone: fc.constantFrom("+263771111111", "+263772000001"),
      type: fc.constant("text"),
      text: fc.oneof(fc.constantFrom("hi", "menu", "buy", "1"), hostileString),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      phone: field(phones),
      type: field(fc.constantFrom("text", "reply", "voice")),
      text: field(fc.oneof(fc.constantFrom("hi", "menu", "buy", "1"), hostileString)),
      replyTo: field(fc.constantFrom("wamid.nope", "")),
      id: field(fc.constantFrom("menu:buy", "buy:pkg:x", "")),
      extra: field(fc.constant(1)),
    }, { requiredKeys: [] }),
  },
  { weight: 1, arbitrary: hostileValue },
);

function assertAnswer(what: string, res: Response, text: string) {
  assert.ok(res.status < 500, `${what} → ${res.status} ${text.slice(0, 300)}`);
  assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+/, `${what}: a stack trace was shown`);
}

Deno.test("fuzz: the simulator's endpoints answer hostile input below 500; the bot answers what was taken", async (t) => {
  const app = await startTestApp({
    env: { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password },
  });
  try {
    const sql = app.server.db.sql;
    const [admin] = await sql`select id from users where email = ${ADMIN.email}`;
    const customer = await createUser(sql, {
      email: "fuzz-customer@example.com",
      password: "long enough password",
    });
    const callers = {
      admin: await signedIn(app, admin.id, true),
      customer: await signedIn(app, customer.id, false),
      anonymous: { cookie: "", csrf: "" },
    };
    type Who = keyof typeof callers;
    const who = fc.constantFrom<Who>("admin", "admin", "admin", "customer", "anonymous");

    await t.step("POST /admin/api/simulator/send", async () => {
      const body = fc.oneof(
        { weight: 6, arbitrary: sendBody.map((b) => JSON.stringify(b) ?? "null") },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            "",
            "{",
            "[]",
            "null",
            '{"phone":"+263771111111","type":"text","text":"' + MEGABYTE + '"}',
            "\u0000",
            '{"__proto__":{"type":"text"},"phone":"+263771111111","text":"hi"}',
          ),
        },
      );
      await fc.assert(
        fc.asyncProperty(
          body,
          who,
          fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain"),
          fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, {
            weight: 1,
            arbitrary: fc.constant(false),
          }),
          async (text, caller, contentType, rightToken) => {
            const { cookie, csrf } = callers[caller];
            const res = await app.fetch("/admin/api/simulator/send", {
              method: "POST",
              headers: {
                ...(cookie ? { cookie } : {}),
                "content-type": contentType,
                "x-csrf-token": rightToken ? csrf : "wrong",
              },
              body: new TextEncoder().encode(text),
            });
            const answer = await res.text();
            assertAnswer(`POST ${text.slice(0, 80)} as ${caller}`, res, answer);
            if (caller === "admin" && res.status >= 400) {
              assert.ok(JSON.parse(answer).error.message, answer.slice(0, 200));
            }
          },
        ),
        fuzzParams({ numRuns: fuzzParams().numRuns! * 4 }),
      );
    });

    await t.step("GET /admin/api/simulator/thread", async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(phones, hostileShortString), who, async (phone, caller) => {
          const url = `/admin/api/simulator/thread?phone=${
            encodeURIComponent(phone.toWellFormed())
          }`;
          const res = await app.fetch(url, {
            headers: callers[caller].cookie ? { cookie: callers[caller].cookie } : {},
            redirect: "manual",
          });
          assertAnswer(`GET ${url.slice(0, 120)} as ${caller}`, res, await res.text());
        }),
        fuzzParams(),
      );
    });

    // Whatever was taken was answered: the deliveries were ordinary, signed ones.
    const until = Date.now() + 60_000;
    for (;;) {
      const [{ n }] = await sql`select count(*)::int as n from whatsapp_inbound
                                where status = 'pending'`;
      if (n === 0) break;
      if (Date.now() > until) throw new Error(`${n} simulated messages still unanswered`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const failed = await sql`select type, error from whatsapp_inbound where status = 'failed'`;
    assert.deepEqual([...failed], [], "no delivery failed");
    const dead = await sql`select job, last_error from job_failures`;
    assert.deepEqual([...dead], [], "no job died");
    const [{ taken }] = await sql`select count(*)::int as taken from whatsapp_inbound`;
    assert.ok(taken > 0, "some generated messages were valid and delivered");
  } finally {
    await app.close();
  }
});
