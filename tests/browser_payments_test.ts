/**
 * In a real browser (Debian chromium): buying tokens on the Paynow website. The account page's
 * form sends the payer to Paynow's page (the fake, lib/sandbox/paynow.ts, on another origin),
 * where they pay and come back to /pay/return, which shows the payment settle by itself.
 */
import assert from "node:assert/strict";
import { browserTest, withPage } from "./browser.ts";
import { logInOnPage, signUpByApi } from "./browser_users.ts";
import { startTestApp } from "./harness.ts";
import { startFakePaynow } from "../lib/sandbox/paynow.ts";

const KEY = "6c0b8d2e-52f4-4f0b-a4e8-9f1f4c6f2b11";

browserTest(
  "Buy on the Paynow website: to Paynow's page, pay, back on /pay/return showing it paid",
  async () => {
    const paynow = await startFakePaynow({ integrations: { "1201": KEY }, timeScale: 0.01 });
    const app = await startTestApp({
      env: {
        PAYNOW_INTEGRATION_ID: "1201",
        PAYNOW_INTEGRATION_KEY: KEY,
        PAYNOW_AUTH_EMAIL: "merchant@hurukuro.example",
        PAYNOW_BASE_URL: paynow.url,
      },
    });
    try {
      const user = await signUpByApi(app);
      await withPage(async ({ page, problems }) => {
        await logInOnPage(page, app, user, "/account");
        await page.getByLabel("Pay with").selectOption({
          label: "Paynow website (card, bank, wallets)",
        });
        await page.getByRole("button", { name: "Buy tokens" }).click();

        // On Paynow's own page (another origin): the account page's CSP let the form go there.
        await page.waitForURL((url) =>
          url.href.startsWith(paynow.url + "/Payment/ConfirmPayment/")
        );
        await page.getByRole("heading", { name: "Fake Paynow checkout" }).waitFor();
        assert.equal(paynow.payments.length, 1, "one payment started");
        await page.getByRole("button", { name: "Pay" }).click();

        // Back home: the return page follows the payment until Paynow's result settles it.
        await page.waitForURL((url) => url.href.startsWith(app.url + "/pay/return?payment="));
        await page.locator('[data-testid="payment-status"][data-status="paid"]')
          .waitFor({ timeout: 20_000 });
        const [row] = await app.server.db.sql`select status, tokens from payments
                                              where user_id = ${user.id}`;
        assert.equal(row.status, "paid");

        await page.getByRole("link", { name: "Go to your account" }).click();
        await page.waitForURL(app.url + "/account");
        assert.equal(
          Number((await page.getByTestId("balance").textContent())!.replace(/\D/g, "")),
          Number(row.tokens),
        );
        assert.deepEqual(problems.all(), [], "no CSP refusal, no failed request");
      }, { viewport: { width: 1366, height: 768 } });
    } finally {
      await app.close();
      await paynow.close();
    }
  },
);
