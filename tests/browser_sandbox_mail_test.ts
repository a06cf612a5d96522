/**
 * In a real browser: a password reset finished through the sandbox's mailbox. Someone asks for a
 * reset link, an admin opens /admin/sandbox/mail, follows the link in the newest e-mail and
 * chooses a new password, which then logs in. Skipped with a note without chromium.
 */
import assert from "node:assert/strict";
import { browserTest, withPage } from "./browser.ts";
import { createUser } from "../lib/accounts/users.ts";
import { ADMIN, appWithAdmin, logInOnPage } from "./browser_users.ts";

const USER = { email: "rudo@example.com", password: "forgotten long password" };

browserTest(
  "a password reset is completed through the sandbox mailbox",
  async () => {
    await using app = await appWithAdmin();
    await createUser(app.server.db.sql, USER);
    await withPage(async ({ page, problems }) => {
      await page.goto(app.url + "/reset");
      await page.getByLabel("E-mail").fill(USER.email);
      await page.getByRole("button", { name: "E-mail me a reset link" }).click();
      await page.getByText("a reset link is on its way").waitFor();

      await logInOnPage(page, app, ADMIN, "/admin/sandbox/mail");
      const newest = page.getByTestId("mail").first();
      await newest.waitFor();
      assert.match(await newest.textContent() ?? "", new RegExp(USER.email));
      await newest.locator('a[href*="/reset?token="]').click();
      await page.getByRole("heading", { name: "Choose a new password" }).waitFor();
      await page.getByLabel("New password").fill("a brand new long password");
      await page.getByRole("button", { name: "Save new password" }).click();
      await page.getByRole("heading", { name: "Password changed" }).waitFor();
      assert.deepEqual(problems.all(), []);
    });
    const login = await app.fetch("/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: USER.email, password: "a brand new long password" }),
    });
    await login.body?.cancel();
    assert.equal(login.status, 200);
  },
);
