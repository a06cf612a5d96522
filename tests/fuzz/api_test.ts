/**
 * The API under hostile input: every operation of `/api/openapi.json` gets generated bodies,
 * path and query values and headers (tests/fuzz/hostile.ts), as a signed-in user (access
 * token, API key, browser session), with a broken `Authorization`, and anonymously. Every
 * answer must be below 500, and every refusal must carry the error envelope. Text the database
 * cannot store must never be accepted, wherever in the request it hides.
 *
 * One app for the whole file (starting one is the expensive part); `deno task fuzz` runs many
 * more cases with a fresh seed (tests/fuzz/settings.ts).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { signUp, startTestApp, type TestApp } from "../harness.ts";
import { createSession } from "../../lib/accounts/credentials.ts";
import { post } from "../../lib/wallet/ledger.ts";
import { csrfTokenFor } from "../../routes/_auth.ts";
import {
  hostileShortString,
  rawJsonBody,
  type Resolve,
  type Schema,
  type SchemaArbitraries,
  schemaArbitraries,
} from "./hostile.ts";
import { announceSeed, fuzzParams } from "./settings.ts";

announceSeed("tests/fuzz/api_test.ts");

interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  schema: Schema;
}

interface Operation {
  method: string;
  path: string;
  parameters: Parameter[];
  body?: Schema;
  /** A multipart form with files (a grievance's attachments). */
  multipart?: boolean;
}

type Caller = "token" | "apiKey" | "session" | "garbage" | "anonymous";
const CALLERS: Caller[] = ["token", "apiKey", "session", "garbage", "anonymous"];

interface Fixture {
  app: TestApp;
  /** Each kind of caller's headers. */
  headers: Record<Caller, () => fc.Arbitrary<Record<string, string>>>;
  /** The fuzz user's access token. */
  token: Record<string, string>;
  /** Ids that exist (a conversation, the user, a package), for path parameters. */
  known: { ids: string[] };
}

interface Generated {
  path: string;
  query: string;
  headers: Record<string, string>;
  body: string | Uint8Array | FormData | null;
  contentType: string | null;
  caller: { who: Caller; headers: Record<string, string> };
}

function operationsOf(doc: { paths: Record<string, Record<string, Record<string, unknown>>> }) {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const content = (op.requestBody as { content?: Record<string, { schema: Schema }> })
        ?.content;
      ops.push({
        method: method.toUpperCase(),
        path,
        parameters: (op.parameters ?? []) as Parameter[],
        body: content?.["application/json"]?.schema,
        multipart: content?.["multipart/form-data"] !== undefined,
      });
    }
  }
  return ops;
}

/** Percent-encoding that cannot throw: an unpaired surrogate cannot travel in a URL anyway. */
const encode = (s: string) => encodeURIComponent(s.toWellFormed());

const PDF = new TextEncoder().encode("%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n");
const JPEG_HEAD = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1]);

/**
 * A report's multipart form under hostile input: text fields mostly plausible, files disguised
 * (a PDF named .jpg), truncated, empty, random bytes, with huge or odd names, too many of them.
 */
const hostileUpload = fc.record({
  fields: fc.dictionary(
    fc.constantFrom("description", "name", "phone", "email", "address", "area", "x"),
    fc.oneof(hostileShortString, fc.constantFrom("Burst pipe", "0771234567", "a@b.co", "")),
    { maxKeys: 6 },
  ),
  files: fc.array(
    fc.record({
      name: fc.oneof(
        fc.constantFrom(
          "photo.jpg",
          "doc.pdf",
          "voice.ogg",
          "",
          "x.exe",
          "a".repeat(2_000) + ".png",
        ),
        hostileShortString,
      ),
      bytes: fc.oneof(
        fc.constant(PDF),
        fc.constant(new Uint8Array(0)),
        fc.nat({ max: PDF.length }).map((n) => PDF.slice(0, n)),
        fc.constant(JPEG_HEAD),
        fc.uint8Array({ maxLength: 512 }),
      ),
    }),
    { maxLength: 7 },
  ),
}).map(({ fields, files }) => {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v.toWellFormed());
  for (const f of files) {
    form.append("attachments", new File([f.bytes as BlobPart], f.name.toWellFormed()));
  }
  return form;
});

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 300,
});

/** One request for `op`: its URL, headers and body, each part mostly right and often not. */
function requestFor(
  op: Operation,
  { validFor, anyFor }: SchemaArbitraries,
  fixture: Fixture,
): fc.Arbitrary<Generated> {
  const { known } = fixture;
  const pathParams = op.parameters.filter((p) => p.in === "path");
  const queryParams = op.parameters.filter((p) => p.in === "query");
  const headerParams = op.parameters.filter((p) => p.in === "header");
  const path = fc.tuple(
    ...pathParams.map((p) =>
      fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...known.ids) },
        { weight: 1, arbitrary: validFor(p.schema).map(String) },
        { weight: 2, arbitrary: hostileShortString },
      )
    ),
  ).map((values) =>
    pathParams.reduce((url, p, i) => url.replace(`{${p.name}}`, encode(values[i])), op.path)
  );
  const query = fc.tuple(
    fc.tuple(
      ...queryParams.map((p) =>
        fc.option(fc.oneof(validFor(p.schema).map(String), hostileShortString))
      ),
    ),
    // Repeated and unknown parameters.
    fc.array(
      fc.tuple(
        fc.oneof(fc.constantFrom(...queryParams.map((p) => p.name), "x"), hostileShortString),
        hostileShortString,
      ),
      { maxLength: 2 },
    ),
  ).map(([values, extra]) => {
    const pairs = queryParams.flatMap((p, i) => values[i] === null ? [] : [[p.name, values[i]!]]);
    const all = [...pairs, ...extra];
    return all.length ? "?" + all.map(([k, v]) => `${encode(k)}=${encode(v)}`).join("&") : "";
  });
  const headers = fc.tuple(...headerParams.map(() => fc.option(printable))).map((values) =>
    Object.fromEntries(
      headerParams.flatMap((p, i) => values[i] === null ? [] : [[p.name, values[i]!]]),
    )
  );
  // Wholly valid bodies reach the handlers' own work; the others its edges.
  const body: fc.Arbitrary<string | Uint8Array | FormData | null> = op.multipart
    ? fc.oneof(
      { weight: 3, arbitrary: hostileUpload },
      { weight: 1, arbitrary: fc.constantFrom<string | null>("{}", "--x\r\nbroken", null) },
    )
    : op.body
    ? fc.oneof(validFor(op.body), anyFor(op.body))
      .chain((value) => rawJsonBody(value))
    : fc.option(fc.constantFrom("{}", '{"unexpected":true}', "not json"));
  const contentType = fc.oneof(
    { weight: 8, arbitrary: fc.constant("application/json") },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        null,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "application/json; charset=utf-16",
        "application/problem+json",
      ),
    },
  );
  const caller = fc.constantFrom(...CALLERS).chain((who) =>
    fixture.headers[who]().map((h) => ({ who, headers: h }))
  );
  return fc.record({ path, query, headers, body, contentType, caller });
}

async function send(
  fixture: Fixture,
  op: Operation,
  r: Generated,
): Promise<{ status: number; text: string; contentType: string }> {
  const headers: Record<string, string> = { ...r.headers, ...r.caller.headers };
  const hasBody = r.body !== null && op.method !== "GET";
  // A FormData body brings its own boundary: fetch writes the content type.
  if (hasBody && r.contentType && !(r.body instanceof FormData)) {
    headers["content-type"] = r.contentType;
  }
  const res = await fixture.app.fetch(r.path + r.query, {
    method: op.method,
    headers,
    body: hasBody ? r.body as BodyInit : undefined,
  });
  const contentType = res.headers.get("content-type") ?? "";
  // Streams (answers, events) stay open: their status and first bytes are what counts.
  if (contentType.startsWith("text/event-stream")) {
    await res.body?.cancel();
    return { status: res.status, text: "", contentType };
  }
  return { status: res.status, text: await res.text(), contentType };
}

function assertAnswer(
  op: Operation,
  request: string,
  answer: { status: number; text: string; contentType: string },
) {
  const where = `${op.method} ${request} → ${answer.status} ${answer.text.slice(0, 300)}`;
  assert.ok(answer.status < 500, where);
  if (answer.status >= 300) {
    assert.match(answer.contentType, /^application\/json/, where);
    const body = JSON.parse(answer.text);
    assert.equal(typeof body.error?.code, "string", where);
    assert.equal(typeof body.error?.message, "string", where);
  }
}

/** Rate limits would turn most cases into 429s before any handler runs: they are reset often. */
async function resetRateLimits(app: TestApp) {
  for await (const entry of app.server.kv.list({ prefix: ["ratelimit"] })) {
    await app.server.kv.delete(entry.key);
  }
  await app.server.db.sql`delete from login_throttles`;
}

async function setUp(app: TestApp): Promise<Fixture> {
  const sql = app.server.db.sql;
  // A high allowance for every tier: the handlers, not the limiter, are under test here.
  await sql`update tiers set requests_per_minute = 1000000, daily_token_cap = 1000000000000`;
  const email = `fuzz-${crypto.randomUUID()}@example.com`;
  const signed = await signUp(app.url, email);
  const userId = signed.user.id;
  const token = signed.auth;
  await post(sql, {
    userId,
    kind: "purchase_credit",
    delta: 10_000_000,
    idempotencyKey: `fuzz:${userId}`,
    description: "fuzz credit",
  });
  // An admin, and a key with every scope: the notification operations do their work rather
  // than refuse the caller (the session caller, not an admin session, still gets refusals).
  await sql`update users set role = 'admin' where id = ${userId}`;
  const key = await (await app.fetch("/api/v1/api-keys", {
    method: "POST",
    headers: { "content-type": "application/json", ...token },
    body: JSON.stringify({
      name: "fuzz",
      scopes: ["notifications:publish", "notifications:manage"],
    }),
  })).json();
  // A key the walk may revoke (not the one it calls with).
  const spare = await (await app.fetch("/api/v1/api-keys", {
    method: "POST",
    headers: { "content-type": "application/json", ...token },
    body: JSON.stringify({ name: "spare" }),
  })).json();
  const conversation = await (await app.fetch("/api/v1/conversations", {
    method: "POST",
    headers: { "content-type": "application/json", ...token },
    body: JSON.stringify({}),
  })).json();
  const session = await createSession(sql, userId);
  const csrf = await csrfTokenFor(app.server.config.appSecret, session.token);
  const [pkg] = await sql`select id from token_packages limit 1`;
  const essay = await app.fetch("/api/v1/essays", {
    method: "POST",
    headers: { "content-type": "application/json", ...token },
    body: JSON.stringify({ text: "An answer whose stream the walk can resume." }),
  });
  await essay.text();
  const answer = essay.headers.get("x-message-id")!;
  const notify = async (path: string, body: unknown) =>
    await (await app.fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json", ...token },
      body: JSON.stringify(body),
    })).json();
  const slack = await notify("/api/v1/notifications/channels", {
    name: "fuzz slack",
    method: "slack",
    settings: { channel: "#fuzz" },
  });
  const topic = await notify("/api/v1/notifications/topics", {
    name: "fuzz-topic",
    channelIds: [slack.id],
  });
  const published = await notify("/api/v1/topics/fuzz-topic/publish", { text: "fuzz" });
  // A bot with a source and a webhook, so the bots' routes reach their handlers' work.
  const bot = await (await app.fetch("/api/v1/bots", {
    method: "POST",
    headers: { "content-type": "application/json", ...token },
    body: JSON.stringify({ name: "Fuzz bot", allowedOrigins: ["https://shop.example"] }),
  })).json();
  const source = await (await app.fetch(`/api/v1/bots/${bot.id}/sources/text`, {
    method: "POST",
    headers: { "content-type": "application/json", ...token },
    body: JSON.stringify({ title: "Hours", text: "Open from nine." }),
  })).json();
  const report = new FormData();
  report.append("description", "Fuzz: a burst pipe");
  report.append("phone", "0771234567");
  const grievance = await (await app.fetch("/api/v1/grievances", { method: "POST", body: report }))
    .json();
  const [filed] = await sql`select id from grievances where reference = ${grievance.reference}`;
  const ids = [
    conversation.id,
    answer,
    userId,
    spare.id,
    ...(pkg ? [pkg.id as string] : []),
    slack.id,
    topic.id,
    "fuzz-topic",
    "payment.failed",
    published.deliveries[0].id,
    bot.id,
    bot.publicKey,
    source.id,
    filed.id,
    grievance.tasks[0].id,
    grievance.reference,
  ];
  return {
    app,
    token,
    known: { ids },
    headers: {
      token: () => fc.constant(token),
      apiKey: () => fc.constant({ authorization: `Bearer ${key.key}` }),
      session: () =>
        fc.constantFrom<Record<string, string>>(
          { cookie: `hk_session=${session.token}`, "x-csrf-token": csrf },
          { cookie: `hk_session=${session.token}` },
          { cookie: `hk_session=${session.token}`, "x-csrf-token": csrf, origin: "https://evil" },
        ),
      garbage: () =>
        fc.constantFrom<Record<string, string>>(
          { authorization: "Bearer" },
          { authorization: "Basic dXNlcjpwYXNz" },
          { authorization: "Bearer hk_" + "x".repeat(60) },
          { authorization: "Bearer a.b.c" },
          { authorization: `Bearer ${signed.accessToken.slice(0, -2)}xx` },
          { authorization: "Bearer " + "x".repeat(6000) },
          { cookie: "hk_session=" + "%00".repeat(10) },
        ),
      anonymous: () => fc.constant({}),
    },
  };
}

Deno.test("every API operation answers hostile input below 500, refusals in the envelope", async (t) => {
  const app = await startTestApp();
  try {
    const fixture = await setUp(app);
    const doc = await (await app.fetch("/api/openapi.json")).json();
    const resolve: Resolve = (s) =>
      s.$ref ? doc.components.schemas[s.$ref.split("/").pop()!] as Schema : s;
    const schemas = schemaArbitraries(resolve, fixture.known);
    const ops = operationsOf(doc);
    assert.ok(ops.length >= 25, `only ${ops.length} operations in the document`);
    let sent = 0;

    for (const op of ops) {
      await t.step(`${op.method} ${op.path}`, async () => {
        await fc.assert(
          fc.asyncProperty(requestFor(op, schemas, fixture), async (r) => {
            if (++sent % 20 === 0) await resetRateLimits(app);
            assertAnswer(op, r.path + r.query.slice(0, 200), await send(fixture, op, r));
          }),
          fuzzParams(),
        );
      });
    }

    await t.step("text the database cannot store is refused wherever it hides", async () => {
      const withText = ops.filter((op) => op.body || op.parameters.some((p) => p.in !== "header"));
      const bad = fc.constantFrom("\u0000", "a\u0000", "\ud800", "x\udfff");
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...withText).chain((op) =>
            fc.record({
              op: fc.constant(op),
              body: op.body ? schemas.validFor(op.body) : fc.constant(null),
              target: fc.nat(),
              bad,
            })
          ),
          async ({ op, body, target, bad }) => {
            if (++sent % 20 === 0) await resetRateLimits(app);
            // Every place a string can go: each body field, each path and query parameter.
            const slots: ((s: string) => { url: string; body: unknown })[] = [];
            for (const p of op.parameters.filter((p) => p.in === "path" || p.in === "query")) {
              slots.push((s) => {
                // An unpaired surrogate has no UTF-8 form, so a URL can only carry the NUL.
                const value = encode(s.includes("\u0000") ? s : "a\u0000");
                return p.in === "path"
                  ? { url: op.path.replace(`{${p.name}}`, value), body }
                  : { url: `${op.path}?${p.name}=${value}`, body };
              });
            }
            if (body && typeof body === "object") {
              for (const key of Object.keys(resolve(op.body!).properties ?? {})) {
                const schema = resolve(resolve(op.body!).properties![key]);
                if (schema.type !== "string" || schema.enum) continue;
                slots.push((s) => ({ url: op.path, body: { ...body, [key]: s } }));
              }
            }
            fc.pre(slots.length > 0);
            const made = slots[target % slots.length](bad);
            const path = made.url.replace(/\{[^}]+\}/g, fixture.known.ids[0]);
            const res = await app.fetch(path, {
              method: op.method,
              headers: { "content-type": "application/json", ...fixture.token },
              body: op.body ? JSON.stringify(made.body) : undefined,
            });
            const text = await res.text();
            const where = `${op.method} ${path} ${
              JSON.stringify(made.body)
            } → ${res.status} ${text}`;
            assert.ok(res.status >= 400 && res.status < 500, where);
            assert.equal(JSON.parse(text).error.code, "validation_failed", where);
          },
        ),
        fuzzParams({ numRuns: Math.max(60, 3 * fuzzParams().numRuns!) }),
      );
    });
  } finally {
    await app.close();
  }
});
