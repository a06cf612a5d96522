/**
 * In a real browser (Debian chromium): the account page a paying customer reads and uses — the
 * balance, the plan with its per-minute limit and today's cap (used, left, when it resets), the
 * payment history with statuses, each answer's cost; linking a WhatsApp number with the code it
 * gets; creating an API key, seeing it used, revoking it; changing the password; logging out
 * from the header.
 */
import assert from "node:assert/strict";
import { browserTest, withPage } from "./browser.ts";
import { logInOnPage, signUpByApi } from "./browser_users.ts";
import { startTestApp } from "./harness.ts";

browserTest(
  "the account page: plan and caps, payments, usage, WhatsApp, API keys, password",
  async () => {
    const app = await startTestApp();
    const sql = app.server.db.sql;
    try {
      const user = await signUpByApi(app, { tokens: 1_234_567, displayName: "Rudo" });
      await sql`update tiers set daily_token_cap = 50000 where name = 'free'`;
      // One answer paid for (the sandbox model), and two payments in the history.
      const asked = await app.fetch("/api/v1/chats", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${user.accessToken}`,
        },
        body: JSON.stringify({ text: "How do I plant maize?" }),
      });
      assert.match(await asked.text(), /event: done/);
      const [{ cost }] = await sql`select amount as cost from ledger_entries
                                   where user_id = ${user.id} and kind = 'usage_debit'`;
      const [pkg] = await sql`select id from token_packages order by position limit 1`;
      for (const [reference, status, amount] of [["HK-A", "paid", "5"], ["HK-B", "failed", "10"]]) {
        await sql`insert into payments (user_id, package_id, tokens, currency, amount, method,
                                        reference, status, expires_at)
                  values (${user.id}, ${pkg.id}, 30000, 'USD', ${amount}, 'ecocash', ${reference},
                          ${status}, now() + interval '1 hour')`;
      }

      await withPage(async ({ page, problems }) => {
        await logInOnPage(page, app, user, "/account");
        assert.equal(await page.locator("h1").textContent(), "Hello, Rudo");
        const balance = 1_234_567 - Number(cost);
        assert.equal(await page.getByTestId("balance").textContent(), balance.toLocaleString("en"));

        // The plan: per-minute limit, today's cap with what is used and left, when it resets.
        const plan = page.getByTestId("plan");
        assert.match(await plan.textContent() ?? "", /Plan: Free.*up to 20 a minute/s);
        assert.equal(await page.getByTestId("daily-cap").textContent(), "50,000 tokens a day");
        assert.equal(
          await page.getByTestId("used-today").textContent(),
          `${Number(cost).toLocaleString("en")} tokens`,
        );
        assert.equal(
          await page.getByTestId("left-today").textContent(),
          `${(50_000 - Number(cost)).toLocaleString("en")} tokens`,
        );
        assert.match(await page.getByTestId("cap-resets").textContent() ?? "", /00:00 CAT$/);
        assert.match(await page.locator("main").textContent() ?? "", /Central Africa Time/);

        // Payments with their statuses, newest first; usage with the answer's cost.
        const payments = page.getByTestId("payments").locator("tbody tr");
        assert.equal(await payments.count(), 2);
        const rows = await payments.allTextContents();
        assert.ok(rows.some((r) => /30,000.*USD 5\.00.*EcoCash.*Paid/.test(r)), rows.join("\n"));
        assert.ok(rows.some((r) => /USD 10\.00.*Failed/.test(r)), rows.join("\n"));
        const usage = await page.getByTestId("usage").locator("tbody tr").allTextContents();
        assert.equal(usage.length, 1);
        assert.match(usage[0], /Chat answer: How do I plant maize\?/);
        assert.match(usage[0], new RegExp(`${Number(cost).toLocaleString("en")} tokens$`));

        // Linking a WhatsApp number: the code goes out over WhatsApp and is typed back.
        await page.getByLabel("WhatsApp number").fill("077 123 4567");
        await page.getByRole("button", { name: "Send me a code" }).click();
        await page.waitForURL(app.url + "/account#whatsapp");
        const [sent] = await sql`select message from whatsapp_outbound
                                 where phone = '+263771234567' order by id desc limit 1`;
        const code = JSON.stringify(sent.message).match(/\*(\d{6})\*/)?.[1];
        assert.ok(code, JSON.stringify(sent.message));
        await page.getByLabel("Code sent to +263771234567").fill(
          code === "000000" ? "111111" : "000000",
        );
        await page.getByRole("button", { name: "Link this number" }).click();
        await page.getByRole("alert").waitFor();
        assert.match(
          await page.getByRole("alert").textContent() ?? "",
          /not right\. 4 attempts left/,
        );
        problems.clear(); // the 400 answer to the wrong code is the expected one
        await page.getByLabel("Code sent to +263771234567").fill(code);
        await page.getByRole("button", { name: "Link this number" }).click();
        await page.waitForURL(app.url + "/account?done=phone#whatsapp");
        assert.match(await page.getByTestId("linked-phone").textContent() ?? "", /\+263771234567/);

        // An API key: created with a name, its secret shown once, used, then revoked.
        await page.getByLabel("New key's name").fill("my script");
        await page.getByRole("button", { name: "Create a key" }).click();
        const secret = (await page.getByTestId("new-key").locator("code").textContent())!;
        assert.match(secret, /^hk_/);
        const keys = page.getByTestId("api-keys").locator("tbody tr");
        assert.match((await keys.allTextContents()).join(), /my script.*never/);
        const me = await app.fetch("/api/v1/me", {
          headers: { authorization: `Bearer ${secret}` },
        });
        assert.equal(me.status, 200);
        await me.body?.cancel();
        await page.goto(app.url + "/account#api-keys");
        assert.doesNotMatch(await page.content(), new RegExp(secret), "shown once only");
        assert.doesNotMatch((await keys.allTextContents()).join(), /never/, "last use shown");
        await page.getByRole("button", { name: "Revoke my script" }).click();
        await page.waitForURL(app.url + "/account?done=key-revoked#api-keys");
        assert.equal(await page.getByTestId("api-keys").count(), 0, "no key left");
        const refused = await app.fetch("/api/v1/me", {
          headers: { authorization: `Bearer ${secret}` },
        });
        assert.equal(refused.status, 401);
        await refused.body?.cancel();

        // The password: the current one is checked, the new one works at the next log-in.
        await page.getByLabel("Current password").fill("not my password");
        await page.getByLabel("New password", { exact: true }).fill("a brand new passphrase");
        await page.getByLabel("New password again").fill("a brand new passphrase");
        await page.getByRole("button", { name: "Change password" }).click();
        await page.getByRole("alert").waitFor();
        assert.match(await page.getByRole("alert").textContent() ?? "", /current password/);
        problems.clear();
        await page.getByLabel("Current password").fill(user.password);
        await page.getByLabel("New password", { exact: true }).fill("a brand new passphrase");
        await page.getByLabel("New password again").fill("a brand new passphrase");
        await page.getByRole("button", { name: "Change password" }).click();
        await page.waitForURL(app.url + "/account?done=password#password");
        assert.match(
          await page.getByRole("status").first().textContent() ?? "",
          /password is changed/,
        );

        // Log out from the header, then in with the new password.
        await page.locator("header").getByRole("button", { name: "Log out" }).click();
        await page.waitForURL(app.url + "/");
        assert.deepEqual(problems.all(), []);
        await logInOnPage(
          page,
          app,
          { email: user.email, password: "a brand new passphrase" },
          "/account",
        );
        // Leaving the home page at once may cut its script's load: expected, not a problem.
        assert.deepEqual(problems.all().filter((p) => !/ERR_ABORTED/.test(p)), []);
      }, { viewport: { width: 1366, height: 768 } });
    } finally {
      await app.close();
    }
  },
);
