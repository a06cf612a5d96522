/**
 * The HTML side under hostile input: every form (sign-up, log-in, reset, log-out, the account's
 * top-up and Telegram link, the admin dashboard's) gets generated bodies — fields with hostile
 * text, a right or wrong CSRF token, extra and repeated fields, raw and broken url-encoding,
 * multipart with and without its boundary, other content types or none — and the pages that
 * read their query string get hostile queries. Every answer must be below 500 and show no stack trace.
 *
 * One app for the whole file; `deno task fuzz` runs many more cases (tests/fuzz/settings.ts).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { signUp, startTestApp, type TestApp } from "../harness.ts";
import { signedIn, visitForm } from "../fixtures/forms.ts";
import { slackTopic } from "../fixtures/notifications.ts";
import { hostileShortString, hostileString, MEGABYTE } from "./hostile.ts";
import { announceSeed, fuzzParams } from "./settings.ts";

announceSeed("tests/fuzz/forms_test.ts");

type Who = "anonymous" | "user" | "admin";

interface Form {
  path: string;
  who: Who;
  fields: Record<string, fc.Arbitrary<string>>;
}

interface Caller {
  cookie: string;
  csrf: string;
}

const ADMIN = { email: "fuzz-admin@example.com", password: "a long admin passphrase" };

const digits = fc.integer({ min: -5, max: 2_000_000 }).map(String);

/** A field: mostly plausible, often hostile. */
const field = (plausible: fc.Arbitrary<string>) =>
  fc.oneof({ weight: 3, arbitrary: plausible }, { weight: 2, arbitrary: hostileString });

interface Ids {
  user: string;
  packageId: string;
  aiConfig: string;
  channel: string;
  topic: string;
  bot: string;
  source: string;
  grievance: string;
  area: string;
}

/** The notification channel form's fields (one form serves every method). */
const channelFields = {
  name: field(fc.string({ maxLength: 90 })),
  method: field(fc.constantFrom("email", "slack", "telegram", "whatsapp", "webhook", "fax")),
  to: field(fc.constantFrom("a@example.com, b@example.com", "nope", "")),
  subject: field(fc.string()),
  channel: field(fc.constantFrom("#ops", "ops", "C0123ABCD")),
  chat_id: field(fc.constantFrom("42", "-1001234567890", "@hurukuro_ops", "x")),
  numbers: field(fc.constantFrom("+263771234567", "0771234567, +263771234568")),
  template: field(fc.constantFrom("", "ops_alert", "bad name!")),
  template_language: field(fc.constantFrom("", "en", "en_US", "english")),
  url: field(fc.constantFrom("https://127.0.0.1/x", "https://hooks.invalid/x", "ftp://x", "")),
  secret_mode: field(fc.constantFrom("keep", "none", "env", "value", "other")),
  secret_env: field(fc.constantFrom("NOTIFY_X", "PATH", "")),
  secret_value: field(fc.string()),
};

function formsOf(ids: Ids): Form[] {
  const nonce = fc.stringMatching(/^[A-Za-z0-9_-]{16,64}$/);
  const user = (suffix: string) => `/admin/users/${ids.user}/${suffix}`;
  const forms: Form[] = [
    {
      path: "/signup",
      who: "anonymous",
      fields: {
        email: field(fc.emailAddress()),
        password: field(fc.string({ minLength: 8, maxLength: 20 })),
        displayName: field(fc.string({ maxLength: 80 })),
      },
    },
    {
      path: "/login",
      who: "anonymous",
      fields: { email: field(fc.emailAddress()), password: field(fc.string()) },
    },
    { path: "/reset", who: "anonymous", fields: { email: field(fc.emailAddress()) } },
    {
      path: "/reset/confirm",
      who: "anonymous",
      fields: { token: field(fc.string()), password: field(fc.string({ minLength: 8 })) },
    },
    { path: "/logout", who: "anonymous", fields: {} },
    {
      path: "/account/top-up",
      who: "user",
      fields: {
        packageId: field(fc.constant(ids.packageId)),
        currency: field(fc.constantFrom("USD", "ZiG")),
        method: field(fc.constantFrom("web", "ecocash", "onemoney", "innbucks")),
        phone: field(fc.constantFrom("0771234567", "0771111111", "+263771234567")),
        nonce: field(nonce),
      },
    },
    { path: "/account/telegram/code", who: "user", fields: {} },
    { path: "/account/telegram/unlink", who: "user", fields: {} },
    {
      path: "/account/phone",
      who: "user",
      fields: { phone: field(fc.constantFrom("0771234567", "+263771234568", "12", "")) },
    },
    { path: "/account/phone/verify", who: "user", fields: { code: field(digits) } },
    { path: "/account/api-keys", who: "user", fields: { name: field(fc.string()) } },
    {
      path: "/account/api-keys/revoke",
      who: "user",
      fields: { id: field(fc.constantFrom(ids.user, ids.packageId, "x")) },
    },
    { path: "/account/profile", who: "user", fields: { displayName: field(fc.string()) } },
    {
      path: "/account/password",
      who: "user",
      fields: {
        current: field(fc.string()),
        password: field(fc.string({ minLength: 8 })),
        confirm: field(fc.string()),
      },
    },
    {
      path: user("adjust"),
      who: "admin",
      fields: { delta: field(digits), reason: field(fc.string()), nonce: field(nonce) },
    },
    { path: user("tier"), who: "admin", fields: { tier: field(fc.constantFrom("free", "x")) } },
    { path: user("disable"), who: "admin", fields: { reason: field(fc.string()) } },
    { path: user("enable"), who: "admin", fields: { reason: field(fc.string()) } },
    {
      path: "/admin/settings/packages",
      who: "admin",
      fields: {
        name: field(fc.string()),
        tokens: field(digits),
        price_usd: field(fc.constantFrom("1.00", "0", "", "9.999")),
        price_zig: field(fc.constantFrom("25", "")),
        position: field(digits),
        active: field(fc.constant("on")),
      },
    },
    {
      path: `/admin/settings/packages/${ids.packageId}`,
      who: "admin",
      fields: { name: field(fc.string()), tokens: field(digits), price_usd: field(digits) },
    },
    {
      path: "/admin/settings/tiers/free",
      who: "admin",
      fields: { requests_per_minute: field(digits), daily_token_cap: field(digits) },
    },
    {
      path: `/admin/settings/ai/${ids.aiConfig}`,
      who: "admin",
      fields: {
        model: field(fc.constantFrom("gpt-4o-mini")),
        base_url: field(fc.constantFrom("", "https://example.com/v1", "ftp://x")),
        temperature: field(fc.constantFrom("0.7", "3", "-1")),
        max_output_tokens: field(digits),
        price_input_per_1k: field(fc.constantFrom("0.5", "1e3")),
        price_output_per_1k: field(fc.constantFrom("1.5")),
        summary_model: field(fc.constantFrom("", "gpt-4o-mini")),
        api_key: field(fc.string()),
      },
    },
    {
      path: "/admin/settings/values",
      who: "admin",
      fields: { signup_grant_tokens: field(digits), payment_expiry_minutes: field(digits) },
    },
    { path: `/admin/payments/${ids.user}/poll`, who: "admin", fields: {} },
    { path: `/admin/jobs/dead/${ids.user}/retry`, who: "admin", fields: {} },
    { path: "/admin/notifications/channels", who: "admin", fields: channelFields },
    { path: `/admin/notifications/channels/${ids.channel}`, who: "admin", fields: channelFields },
    { path: `/admin/notifications/channels/${ids.channel}/test`, who: "admin", fields: {} },
    {
      path: "/admin/notifications/topics",
      who: "admin",
      fields: {
        name: field(fc.string()),
        description: field(fc.string()),
        [`channel_${ids.channel}`]: field(fc.constant("on")),
        channel_x: field(fc.constant("on")),
      },
    },
    {
      path: `/admin/notifications/topics/${ids.topic}`,
      who: "admin",
      fields: { name: field(fc.string()), [`channel_${ids.channel}`]: field(fc.constant("on")) },
    },
    {
      path: "/admin/notifications/events",
      who: "admin",
      fields: {
        "payment.failed": field(fc.constantFrom(ids.topic, "", ids.user)),
        "account.signed_up": field(fc.constantFrom(ids.topic, "")),
      },
    },
    { path: `/admin/notifications/topics/${ids.topic}/delete`, who: "admin", fields: {} },
    { path: `/admin/notifications/channels/${ids.channel}/delete`, who: "admin", fields: {} },
    ...botForms(ids),
    {
      path: "/report",
      who: "anonymous",
      fields: {
        description: field(fc.string({ maxLength: 200 })),
        name: field(fc.string({ maxLength: 50 })),
        phone: field(fc.constantFrom("0771234567", "+263771234567", "12", "")),
        email: field(fc.constantFrom("a@example.com", "nope", "")),
        address: field(fc.string()),
        area: field(fc.constantFrom(ids.area, "", ids.user)),
        nonce: field(fc.uuid()),
      },
    },
    {
      path: "/track",
      who: "anonymous",
      fields: {
        reference: field(fc.constantFrom("GRV-2026-00001", "grv 2026 1", "x")),
        phone: field(fc.constantFrom("0771234567", "", "+1")),
      },
    },
    {
      path: "/admin/grievances/bulk",
      who: "admin",
      fields: {
        ids: field(fc.constantFrom(ids.grievance, ids.user, "x")),
        status: field(fc.constantFrom("in_review", "resolved", "classified", "x")),
        note: field(fc.string()),
        back: field(fc.constantFrom("/admin/grievances?status=open", "//evil.example", "")),
      },
    },
    {
      path: `/admin/grievances/${ids.grievance}/assign`,
      who: "admin",
      fields: {
        assignee: field(fc.constantFrom("me", "", ids.user, "x")),
        note: field(fc.string()),
      },
    },
    {
      path: `/admin/grievances/${ids.grievance}/status`,
      who: "admin",
      fields: {
        status: field(fc.constantFrom("in_review", "resolved", "rejected", "classified", "x")),
        note: field(fc.string()),
      },
    },
    {
      path: `/admin/grievances/${ids.grievance}/priority`,
      who: "admin",
      fields: { priority: field(fc.constantFrom("low", "urgent", "x")) },
    },
    {
      path: `/admin/grievances/${ids.grievance}/answer`,
      who: "admin",
      fields: {
        answer: field(fc.string({ maxLength: 300 })),
        status: field(fc.constantFrom("", "resolved", "in_review", "x")),
      },
    },
    { path: `/admin/grievances/${ids.grievance}/retry`, who: "admin", fields: {} },
    {
      path: "/admin/grievances/settings/sla",
      who: "admin",
      fields: { low: field(digits), normal: field(digits), urgent: field(digits) },
    },
    {
      path: "/admin/grievances/settings/categories",
      who: "admin",
      fields: {
        slug: field(fc.constantFrom("water", "new-one", "BAD SLUG", "")),
        name: field(fc.string()),
        description: field(fc.string()),
        position: field(digits),
        active: field(fc.constant("on")),
      },
    },
    {
      path: "/admin/grievances/settings/areas",
      who: "admin",
      fields: {
        name: field(fc.string({ maxLength: 40 })),
        latitude: field(fc.constantFrom("-17.8", "", "91", "x")),
        longitude: field(fc.constantFrom("31.05", "", "-181")),
      },
    },
    { path: `/admin/grievances/settings/areas/${ids.area}/delete`, who: "admin", fields: {} },
    {
      path: `/admin/users/${ids.user}/officer`,
      who: "admin",
      fields: {
        officer: field(fc.constantFrom("on", "")),
        [`area_${ids.area}`]: field(fc.constant("on")),
        area_x: field(fc.constant("on")),
      },
    },
  ];
  return forms;
}

/** The bot owners' forms (routes/bots.tsx); deleting the bot comes last. */
function botForms(ids: { bot: string; source: string }): Form[] {
  const bot = `/bots/${ids.bot}`;
  return [
    {
      path: "/bots",
      who: "user",
      fields: { name: field(fc.string()), greeting: field(fc.string()) },
    },
    {
      path: bot,
      who: "user",
      fields: {
        name: field(fc.string({ minLength: 1 })),
        greeting: field(fc.string()),
        instructions: field(fc.string()),
        model: field(fc.constantFrom("", "gpt-4o-mini", "nope")),
        temperature: field(fc.constantFrom("0.3", "2", "9", "x")),
        knowledgeOnly: field(fc.constant("on")),
        active: field(fc.constant("on")),
        allowedOrigins: field(fc.constantFrom("https://shop.example", "ftp://x\nhttps://a.b/c")),
      },
    },
    {
      path: `${bot}/sources/text`,
      who: "user",
      fields: { title: field(fc.string()), text: field(fc.string()) },
    },
    {
      path: `${bot}/sources/url`,
      who: "user",
      fields: {
        url: field(fc.constantFrom("https://example.com/", "https://10.0.0.1/", "x")),
        kind: field(fc.constantFrom("sitemap", "url")),
      },
    },
    { path: `${bot}/sources/file`, who: "user", fields: {} },
    { path: `${bot}/sources/${ids.source}/retrain`, who: "user", fields: {} },
    { path: `${bot}/rotate-key`, who: "user", fields: {} },
    {
      path: `${bot}/webhooks`,
      who: "user",
      fields: {
        url: field(fc.constantFrom("https://example.com/hook", "https://127.0.0.1/", "")),
        "event:message.created": field(fc.constant("on")),
      },
    },
    { path: `${bot}/webhooks/${ids.source}/delete`, who: "user", fields: {} },
    { path: `${bot}/sources/${ids.source}/delete`, who: "user", fields: {} },
    { path: `${bot}/delete`, who: "admin", fields: {} },
  ];
}

/** The url-encoded text of `pairs`; unpaired surrogates become U+FFFD, as in any browser. */
const urlencode = (pairs: [string, string][]) =>
  pairs.map(([k, v]) =>
    `${encodeURIComponent(k.toWellFormed())}=${encodeURIComponent(v.toWellFormed())}`
  ).join("&");

interface Body {
  body: string | Uint8Array | FormData | null;
  contentType: string | null;
}

/** A form body: the fields and token, encoded as a browser would, or broken. */
function bodyFor(form: Form, caller: Caller): fc.Arbitrary<Body> {
  const fields = fc.record(form.fields, { requiredKeys: [] });
  const csrf = fc.oneof({ weight: 4, arbitrary: fc.constant(caller.csrf) }, {
    weight: 1,
    arbitrary: hostileShortString,
  });
  const extra = fc.array(fc.tuple(hostileShortString, hostileShortString), { maxLength: 3 });
  const pairs = fc.tuple(fields, csrf, extra).map(([f, token, more]) =>
    [["_csrf", token], ...Object.entries(f), ...more] as [string, string][]
  );
  const form_ = "application/x-www-form-urlencoded";
  return fc.oneof(
    { weight: 6, arbitrary: pairs.map((p) => ({ body: urlencode(p), contentType: form_ })) },
    {
      weight: 2,
      arbitrary: pairs.map((p) => {
        const data = new FormData();
        for (const [k, v] of p) data.append(k, v);
        data.append("upload", new File(["x".repeat(100)], "a.txt"));
        return { body: data, contentType: null }; // fetch sets the boundary
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        body: fc.constantFrom(
          "%",
          "%zz=1&_csrf=%",
          `_csrf=${caller.csrf}&email=%ED%A0%80%00&password=%C0%80`,
          "=&=&&==",
          `_csrf=${caller.csrf}&email=a@b.co&email=c@d.co&password=x&password=y`,
          `_csrf=${caller.csrf}&displayName=${MEGABYTE}`,
          '--x\r\nContent-Disposition: form-data; name="_csrf"\r\n\r\nx\r\n--x--',
          "--b\r\nbroken",
          '{"email":"a@b.co"}',
          "",
        ),
        contentType: fc.constantFrom(
          form_,
          "multipart/form-data",
          "multipart/form-data; boundary=x",
          "multipart/form-data; boundary=",
          "application/json",
          "text/plain",
          null,
        ),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ body: null, contentType: null }) },
  );
}

/** Pages that read their query string, with the parameters they read. */
function pagesOf(ids: Ids): [string, string[]][] {
  return [
    ["/login", ["next"]],
    ["/reset", ["token"]],
    ["/pay/return", ["payment"]],
    [`/pay/status/${ids.user}`, []],
    ["/admin", ["range"]],
    ["/admin/api/metrics", ["range"]],
    ["/admin/users", ["q", "page", "notice", "problem"]],
    [`/admin/users/${ids.user}`, ["before"]],
    ["/admin/audit", ["action", "target_type", "target_id", "page"]],
    ["/admin/payments", ["status", "method", "currency", "q", "flagged", "from", "to", "page"]],
    [`/admin/payments/${ids.packageId}`, []],
    ["/admin/webhooks", ["provider", "outcome", "before"]],
    ["/admin/jobs", ["before"]],
    ["/admin/conversations", ["q", "page"]],
    [`/admin/conversations/${ids.user}`, []],
    ["/admin/settings", ["notice", "problem"]],
    ["/admin/notifications", ["notice", "problem"]],
    ["/admin/notifications/deliveries", [
      "q",
      "topic",
      "channel",
      "status",
      "from",
      "to",
      "before",
    ]],
    [`/admin/notifications/channels/${ids.channel}`, []],
    [`/admin/notifications/topics/${ids.topic}`, []],
    ["/account", ["done"]],
    ["/chat", []],
    ["/bots", []],
    [`/bots/${ids.bot}`, []],
    ["/report", []],
    ["/track", []],
    ["/admin/grievances", [
      "status",
      "category",
      "priority",
      "area",
      "age",
      "assigned",
      "overdue",
      "failed",
      "phone",
      "email",
      "page",
    ]],
    ["/admin/grievances/export.csv", ["status", "category", "phone"]],
    [`/admin/grievances/${ids.grievance}`, []],
    [`/admin/grievances/${ids.grievance}/files/${ids.user}`, ["thumbnail"]],
    ["/admin/grievances/stats", []],
    ["/admin/grievances/settings", []],
    // Shows e-mails the forms above caused (reset links to hostile addresses among them).
    ["/admin/sandbox/mail", []],
    // The WhatsApp simulator (its JSON send is fuzzed in simulator_test.ts).
    ["/admin/simulator", ["phone"]],
    ["/admin/api/simulator/thread", ["phone"]],
    [`/track/files/${ids.user}`, []],
  ];
}

function assertPage(what: string, res: Response, text: string) {
  assert.ok(res.status < 500, `${what} → ${res.status} ${text.slice(0, 300)}`);
  assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+/, `${what}: a stack trace was shown`);
}

async function resetRateLimits(app: TestApp) {
  for await (const entry of app.server.kv.list({ prefix: ["ratelimit"] })) {
    await app.server.kv.delete(entry.key);
  }
  await app.server.db.sql`delete from login_throttles`;
}

Deno.test("every form and page answers hostile input below 500, without a stack trace", async (t) => {
  const app = await startTestApp({
    env: {
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      // The Telegram chat on (replies to the sandbox's fake Bot API): /account links it.
      TELEGRAM_WEBHOOK_SECRET: "fuzz-telegram-webhook-secret",
    },
  });
  try {
    const sql = app.server.db.sql;
    await sql`update tiers set requests_per_minute = 1000000`;
    const signed = await signUp(app.url, `form-${crypto.randomUUID()}@example.com`);
    const [admin] = await sql`select id from users where email = ${ADMIN.email}`;
    const [pkg] = await sql`select id from token_packages limit 1`;
    const [ai] = await sql`select id from ai_configs limit 1`;
    const { notifications } = app.server;
    const { channel, topic } = await slackTopic(notifications, "fuzz", "#fuzz");
    const auth = {
      authorization: `Bearer ${signed.accessToken}`,
      "content-type": "application/json",
    };
    const bot = await (await app.fetch("/api/v1/bots", {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ name: "Fuzz bot" }),
    })).json();
    const source = await (await app.fetch(`/api/v1/bots/${bot.id}/sources/text`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ title: "T", text: "Some text." }),
    })).json();
    const grievance = await app.server.grievances.submit(app.server.queue, {
      channel: "web",
      description: "Fuzz: refuse not collected",
      phone: "0771234567",
    });
    const [area] = await sql`insert into grievance_areas (name) values ('Fuzz area') returning id`;
    const ids = {
      user: signed.user.id,
      packageId: pkg.id,
      aiConfig: ai.id,
      channel: channel.id,
      topic: topic.id,
      bot: bot.id as string,
      source: source.id as string,
      grievance: grievance.id,
      area: area.id as string,
    };
    const callers: Record<Who, Caller> = {
      anonymous: await visitForm(app, "/login"),
      user: await signedIn(app, ids.user, false),
      admin: await signedIn(app, admin.id, true),
    };
    let sent = 0;

    for (const form of formsOf(ids)) {
      await t.step(`POST ${form.path}`, async () => {
        await fc.assert(
          fc.asyncProperty(bodyFor(form, callers[form.who]), async ({ body, contentType }) => {
            if (++sent % 20 === 0) await resetRateLimits(app);
            const headers: Record<string, string> = { cookie: callers[form.who].cookie };
            if (contentType) headers["content-type"] = contentType;
            const res = await app.fetch(form.path, {
              method: "POST",
              headers,
              // Bytes, not a string: fetch would add a text/plain content type of its own.
              body: (typeof body === "string" ? new TextEncoder().encode(body) : body) as BodyInit,
              redirect: "manual",
            });
            assertPage(`POST ${form.path} (${contentType})`, res, await res.text());
          }),
          fuzzParams(),
        );
      });
    }

    for (const [page, params] of pagesOf(ids)) {
      await t.step(`GET ${page}`, async () => {
        const query = fc.array(
          fc.tuple(
            fc.oneof(fc.constantFrom(...params, "x"), hostileShortString),
            hostileShortString,
          ),
          { maxLength: 4 },
        );
        await fc.assert(
          fc.asyncProperty(
            query,
            fc.constantFrom<Who>("admin", "user", "anonymous"),
            async (q, who) => {
              const url = `${page}?${urlencode(q)}`;
              const res = await app.fetch(url, {
                headers: { cookie: callers[who].cookie },
                redirect: "manual",
              });
              // The admin feed and similar streams: the status is the answer.
              const text = res.headers.get("content-type")?.startsWith("text/event-stream")
                ? (await res.body?.cancel(), "")
                : await res.text();
              assertPage(`GET ${url.slice(0, 300)} as ${who}`, res, text);
            },
          ),
          fuzzParams(),
        );
      });
    }
  } finally {
    await app.close();
  }
});
