/**
 * In a real browser (Debian chromium): the home page says what Hurukuro is, lists the packages
 * on sale with their prices (thousands separators, two decimals), and leads to sign-up, log-in
 * and — when the business number is configured — WhatsApp; on a desktop and a phone, under the
 * page's strict CSP. Skipped with a note when chromium is absent.
 */
import assert from "node:assert/strict";
import { browserTest, withPage } from "./browser.ts";
import { startTestApp } from "./harness.ts";

browserTest(
  "the home page: what it is, the packages and prices, sign up / log in, WhatsApp",
  async () => {
    await using app = await startTestApp({ env: { WHATSAPP_DISPLAY_NUMBER: "+263 77 000 1234" } });
    const packages = await app.server.db.sql`select name, tokens, price_usd from token_packages
                                             where active order by position, tokens`;
    assert.ok(packages.length > 0, "the seeded packages");
    await withPage(async ({ page, problems }) => {
      for (const viewport of [{ width: 1366, height: 768 }, { width: 390, height: 844 }]) {
        await page.setViewportSize(viewport);
        const res = await page.goto(app.url + "/");
        assert.equal(res?.status(), 200);
        assert.match(res!.headers()["content-security-policy"] ?? "", /script-src 'self'/);
        assert.equal(await page.locator("h1").textContent(), "Hurukuro");
        assert.match(await page.locator(".lead").textContent() ?? "", /AI assistant/);
        assert.equal(await page.getByText(/All systems working/).count(), 0, "no health widget");

        const rows = page.getByTestId("packages").locator("tbody tr");
        assert.equal(await rows.count(), packages.length);
        const first = await rows.first().locator("td").allTextContents();
        assert.equal(first[0], packages[0].name);
        assert.equal(first[1], Number(packages[0].tokens).toLocaleString("en"));
        assert.equal(first[2], `USD ${Number(packages[0].price_usd).toFixed(2)}`);

        for (const name of ["Sign up", "Log in"]) {
          assert.ok(await page.getByRole("link", { name, exact: true }).first().isVisible());
        }
        const whatsapp = page.getByRole("link", { name: "Chat on WhatsApp" });
        assert.equal(await whatsapp.getAttribute("href"), "https://wa.me/263770001234");
        assert.ok(await whatsapp.isVisible());
        await page.screenshot({
          path: `/tmp/hurukuro-home-${viewport.width}.png`,
          fullPage: true,
        });
      }
      await page.getByRole("link", { name: "Sign up", exact: true }).click();
      await page.waitForURL(app.url + "/signup");
      assert.deepEqual(problems.all(), [], "no errors or CSP violations");
    });
  },
);

Deno.test("without a WhatsApp number configured, the home page offers no WhatsApp link", async () => {
  await using app = await startTestApp();
  const html = await (await app.fetch("/")).text();
  assert.match(html, /href="\/signup"/);
  assert.doesNotMatch(html, /wa\.me/);
});
