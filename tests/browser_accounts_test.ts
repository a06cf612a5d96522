/**
 * In a real browser (Debian chromium): a visitor signs up and logs in through the web pages,
 * with the CSRF-protected forms and the session cookie doing their work.
 */
import assert from "node:assert/strict";
import { browserTest, withPage } from "./browser.ts";
import { startTestApp } from "./harness.ts";

browserTest(
  "a visitor signs up, logs out and logs in again through the web pages",
  async () => {
    await using app = await startTestApp();
    await withPage(async ({ page, problems }) => {
      await page.goto(app.url + "/signup");
      await page.getByLabel("Your name (optional)").fill("Tendai");
      await page.getByLabel("E-mail").fill("tendai@example.com");
      await page.getByLabel("Password").fill("short");
      await page.getByRole("button", { name: "Create account" }).click();
      await page.getByRole("alert").waitFor();
      assert.match(await page.getByRole("alert").textContent() ?? "", /at least 8 characters/);
      problems.clear(); // the 400 answer to the short password is the expected one

      await page.getByLabel("Password").fill("correct horse battery");
      await page.getByRole("button", { name: "Create account" }).click();
      await page.waitForURL(app.url + "/account");
      assert.equal(await page.locator("h1").textContent(), "Hello, Tendai");
      assert.equal(await page.getByTestId("balance").textContent(), "0");
      const cookie = (await page.context().cookies()).find((c) => c.name === "hk_session");
      assert.ok(cookie?.httpOnly, "the session cookie is HttpOnly");
      assert.equal(cookie?.sameSite, "Lax");

      await page.getByRole("button", { name: "Log out" }).click();
      await page.waitForURL(app.url + "/");
      await page.goto(app.url + "/account");
      await page.waitForURL(/\/login\?next=/);

      await page.getByLabel("E-mail").fill("tendai@example.com");
      await page.getByLabel("Password").fill("wrong password");
      await page.getByRole("button", { name: "Log in" }).click();
      await page.getByRole("alert").waitFor();
      assert.equal(await page.getByRole("alert").textContent(), "Wrong e-mail or password.");
      problems.clear();

      await page.getByLabel("Password").fill("correct horse battery");
      await page.getByRole("button", { name: "Log in" }).click();
      await page.waitForURL(app.url + "/account");
      assert.equal(await page.locator("h1").textContent(), "Hello, Tendai");
      assert.deepEqual(problems.all(), []);
    });
  },
);
