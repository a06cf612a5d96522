/**
 * What the sandbox shows a person trying it by hand: the top-up form lists the sandboxed Paynow's
 * test numbers (read from the fake's own table), and only while Paynow is sandboxed.
 */
import assert from "node:assert/strict";
import { startTestApp, type TestApp } from "./harness.ts";
import { createSession } from "../lib/accounts/credentials.ts";
import { createUser } from "../lib/accounts/users.ts";
import { TEST_MODE_PHONES } from "../lib/sandbox/paynow_model.ts";

async function accountPage(app: TestApp): Promise<string> {
  const user = await createUser(app.server.db.sql, {
    email: "payer@example.com",
    password: "long enough password",
  });
  const session = await createSession(app.server.db.sql, user.id, { admin: false });
  const res = await app.fetch("/account", { headers: { cookie: `hk_session=${session.token}` } });
  assert.equal(res.status, 200);
  return await res.text();
}

Deno.test("the top-up form lists the sandbox's Paynow test numbers while Paynow is sandboxed", async () => {
  const app = await startTestApp();
  try {
    const html = await accountPage(app);
    const list = html.match(/data-testid="test-phones">([\s\S]*?)<\/div>/)?.[1] ?? "";
    for (const phone of Object.keys(TEST_MODE_PHONES)) {
      assert.ok(list.includes(`<code>${phone}</code>`), `${phone} listed unmasked`);
    }
    assert.match(list, /0771111111<\/code>: paid after 5 s/);
    assert.match(list, /0773333333<\/code>: cancelled after 30 s/);
    assert.match(list, /0774444444<\/code>: refused: insufficient balance/);
  } finally {
    await app.close();
  }
  const real = await startTestApp({
    env: {
      PAYNOW_INTEGRATION_ID: "1201",
      PAYNOW_INTEGRATION_KEY: "3e9fed89-60e1-4ce5-ab6e-6b1eb2d4f977",
      PAYNOW_AUTH_EMAIL: "merchant@hurukuro.example",
      PAYNOW_BASE_URL: "http://127.0.0.1:9",
    },
  });
  try {
    assert.doesNotMatch(await accountPage(real), /test-phones|0771111111/);
  } finally {
    await real.close();
  }
});
