/**
 * Accessibility in a real browser (Debian chromium) with axe-core (npm `@axe-core/playwright`):
 * the home, sign-up, account and chat pages — the chat with an answer and a notice showing —
 * on a desktop and a phone, and the admin overview and the sandbox mailbox, have no violation of
 * "serious" or "critical" impact.
 */
import assert from "node:assert/strict";
import AxeBuilder from "@axe-core/playwright";
import type { Page } from "playwright-core";
import { browserTest, withPage } from "./browser.ts";
import { ADMIN, appWithAdmin, logInOnPage, signUpByApi } from "./browser_users.ts";
import { startTestApp } from "./harness.ts";

/** The serious and critical violations on the page as it is now, one line each. */
async function seriousViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) =>
      `${v.impact} ${v.id}: ${v.help} — ${
        v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")
      }`
    );
}

/**
 * On a desktop and a phone, `visit` walks the pages and calls `check(label)` at each state worth
 * checking; the test fails listing every serious or critical violation found, by viewport.
 */
async function expectNoSeriousViolations(
  visit: (page: Page, check: (label: string) => Promise<void>) => Promise<void>,
): Promise<void> {
  for (const viewport of [{ width: 1366, height: 768 }, { width: 390, height: 844 }]) {
    await withPage(async ({ page }) => {
      const found: Record<string, string[]> = {};
      await visit(page, async (label) => {
        found[label] = await seriousViolations(page);
      });
      const all = Object.entries(found).flatMap(([path, list]) =>
        list.map((v) => `${viewport.width}px ${path}: ${v}`)
      );
      assert.deepEqual(all, []);
    }, { viewport });
  }
}

browserTest(
  "home, sign-up, account and chat have no serious or critical axe violation",
  async () => {
    await using app = await startTestApp({
      env: { WHATSAPP_DISPLAY_NUMBER: "+263770001234" },
    });
    const user = await signUpByApi(app, { tokens: 1_000_000, displayName: "Tariro" });
    await expectNoSeriousViolations(async (page, check) => {
      for (const path of ["/", "/signup", "/login"]) {
        await page.goto(app.url + path);
        await check(path);
      }
      await logInOnPage(page, app, user, "/account");
      await check("/account");
      // A form's problem shown, as a customer sees it after a mistake.
      await page.getByLabel("New key's name").fill(" ");
      await page.getByRole("button", { name: "Create a key" }).click();
      await page.getByRole("alert").waitFor();
      await check("/account with a problem");

      await page.goto(app.url + "/chat");
      await page.locator('[data-island="Chat"][data-hydrated="true"]').waitFor();
      await page.getByRole("textbox", { name: "Your message" }).fill("How do I grow maize?");
      await page.getByTestId("send").click();
      await page.getByTestId("answer").locator("li").first().waitFor({ timeout: 20_000 });
      await page.getByTestId("send").waitFor();
      await check("/chat with an answer");
      await page.getByRole("textbox", { name: "Your message" }).fill("x".repeat(16_100));
      await check("/chat with a message too long");
    });
  },
);

browserTest(
  "the admin overview, the sandbox mailbox and the WhatsApp simulator have no serious or critical axe violation",
  async () => {
    await using app = await appWithAdmin();
    await expectNoSeriousViolations(async (page, check) => {
      await logInOnPage(page, app, ADMIN, "/admin");
      await page.locator('[data-island="MetricsChart"][data-hydrated="true"]').waitFor();
      await check("/admin");
      await page.goto(app.url + "/admin/sandbox/mail");
      await check("/admin/sandbox/mail");
      const width = page.viewportSize()?.width ?? 0;
      await page.goto(app.url + `/admin/simulator?phone=%2B26377200${width}`);
      await page.locator('[data-island="WhatsAppSimulator"][data-hydrated="true"]').waitFor();
      await page.getByRole("textbox", { name: "Message", exact: true }).fill("hi");
      await page.getByRole("button", { name: "Send", exact: true }).click();
      const bot = page.locator('[data-testid="sim-message"][data-from="bot"]').last();
      await bot.getByText("☰ Menu").click();
      await bot.getByRole("button", { name: /^Buy tokens/ }).waitFor();
      await check("/admin/simulator with the menu open");
      await page.goto(app.url + "/admin/simulator?phone=nope");
      await check("/admin/simulator with a problem");
    });
  },
);
