/**
 * In a real browser (Debian chromium): the WhatsApp simulator. An admin opens /admin/simulator,
 * says hi as the default test number, sees the bot's welcome, opens its menu and picks Buy
 * tokens, a package, EcoCash and "This number" (Paynow's paid test number), and sees the payment
 * confirmed in the thread with the number's balance risen. On a phone (390×844) the composer fits
 * the screen and sends. Skipped with a note without chromium.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { browserTest, withPage } from "./browser.ts";
import { ADMIN, appWithAdmin, logInOnPage } from "./browser_users.ts";
import { getBalance } from "../lib/wallet/ledger.ts";
import { findUserByPhone } from "../lib/accounts/users.ts";

const lastBot = (page: Page) => page.locator('[data-testid="sim-message"][data-from="bot"]').last();

async function say(page: Page, text: string) {
  await page.getByRole("textbox", { name: "Message", exact: true }).fill(text);
  await page.getByRole("button", { name: "Send", exact: true }).click();
}

browserTest(
  "the WhatsApp simulator: hi, the menu, buying tokens with Paynow's test number, on a laptop and a phone",
  async () => {
    await using app = await appWithAdmin();
    await withPage(async ({ page, problems }) => {
      await logInOnPage(page, app, ADMIN, "/admin");
      await page.getByRole("link", { name: "WhatsApp simulator" }).click();
      await page.waitForURL(app.url + "/admin/simulator");
      await page.locator('[data-island="WhatsAppSimulator"][data-hydrated="true"]').waitFor();
      await page.getByTestId("test-phones").getByText("paid after 5 s").waitFor();

      await say(page, "hi");
      await page.locator('[data-testid="sim-message"][data-from="user"]').getByText("hi")
        .waitFor();
      await lastBot(page).getByText("Welcome to Hurukuro!").waitFor();
      assert.equal(
        await page.getByRole("textbox", { name: "Message", exact: true }).inputValue(),
        "",
      );

      // The menu is a list message: open it and pick a row, as on a phone.
      await lastBot(page).getByText("☰ Menu").click();
      await lastBot(page).getByRole("button", { name: /^Buy tokens/ }).click();
      await lastBot(page).getByText("Choose a package").waitFor();
      await page.locator('[data-from="user"]').getByText("Buy tokens").waitFor();
      await lastBot(page).getByText("☰ Packages").click();
      await lastBot(page).getByRole("button").first().click();
      // Reply buttons.
      await lastBot(page).getByRole("button", { name: "EcoCash" }).click();
      await lastBot(page).getByText("0771111111").waitFor();
      await lastBot(page).getByRole("button", { name: "This number" }).click();
      await page.getByTestId("sim-thread").getByText("Payment started").waitFor();
      // Paynow's test number pays after 5 s; the bot's confirmation arrives by itself.
      await page.getByTestId("sim-thread").getByText(/Payment received: .* tokens added/)
        .waitFor({ timeout: 30_000 });
      await page.getByTestId("sim-balance").getByText(/^Balance: [1-9][\d,]* tokens$/)
        .waitFor();

      const user = await findUserByPhone(app.server.db.sql, "+263771111111");
      const { balance } = await getBalance(app.server.db.sql, user!.id);
      assert.ok(balance > 0);
      assert.equal(
        Number((await page.getByTestId("sim-balance").textContent())!.replace(/\D/g, "")),
        balance,
      );
      await page.screenshot({ path: "/tmp/hurukuro-simulator.png" });
      // Leaving the overview cuts its live feed's stream: the browser's doing, not a failure.
      const feedCut = (p: string) => p.includes("/admin/api/feed") && p.includes("ERR_ABORTED");
      assert.deepEqual(
        problems.all().filter((p) => !feedCut(p)),
        [],
        "no CSP refusal, no failed request",
      );
    }, { viewport: { width: 1366, height: 768 } });

    await withPage(async ({ page, problems }) => {
      // Another number: a thread of its own.
      await logInOnPage(page, app, ADMIN, "/admin/simulator?phone=%2B263772000111");
      await page.locator('[data-island="WhatsAppSimulator"][data-hydrated="true"]').waitFor();
      await page.getByTestId("sim-thread").getByText("No messages yet").waitFor();
      const composer = page.getByTestId("sim-composer");
      await composer.scrollIntoViewIfNeeded();
      const box = await composer.boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 390, JSON.stringify(box));
      const send = await page.getByRole("button", { name: "Send", exact: true }).boundingBox();
      assert.ok(send && send.x + send.width <= 390 && send.width >= 44, JSON.stringify(send));
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(overflow <= 390, `the page is ${overflow}px wide`);
      await say(page, "hi");
      await lastBot(page).getByText("Welcome to Hurukuro!").waitFor();
      await page.screenshot({ path: "/tmp/hurukuro-simulator-phone.png" });
      assert.deepEqual(problems.all(), []);
    }, { viewport: { width: 390, height: 844 } });
  },
);
