/**
 * In a real browser (Debian chromium): an officer signs in, filters the queue by category, opens
 * a grievance, assigns it to themselves, moves it into review with a note, answers the
 * complainant and resolves it, and the history shows each step — under the strict CSP, with no
 * console error. The rest of /admin does not exist for them.
 */
import assert from "node:assert/strict";
import { browserTest, withPage } from "./browser.ts";
import { startTestApp } from "./harness.ts";
import { createUser } from "../lib/accounts/users.ts";

const OFFICER = { email: "officer@example.com", password: "a long officer passphrase" };

browserTest(
  "an officer filters the queue, assigns a grievance, answers it, and the history shows each step",
  async () => {
    await using app = await startTestApp();
    const sql = app.server.db.sql;
    await createUser(sql, { ...OFFICER, role: "officer" });
    const { grievances, queue } = app.server;
    const water = await grievances.submit(queue, {
      channel: "web",
      description: "No water at the borehole since Sunday.",
      email: "resident@example.com",
    });
    await grievances.submit(queue, { channel: "web", description: "Deep potholes on the road." });
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      const [r] = await sql`select count(*)::int as n from grievances where ai_status = 'done'`;
      if (r.n === 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }

    await withPage(async ({ page, problems }) => {
      await page.goto(app.url + "/login?next=%2Fadmin%2Fgrievances");
      await page.getByLabel("E-mail").fill(OFFICER.email);
      await page.getByLabel("Password").fill(OFFICER.password);
      await page.getByRole("button", { name: "Log in" }).click();
      await page.waitForURL(app.url + "/admin/grievances");
      assert.equal(await page.locator("tbody tr[data-reference]").count(), 2);
      assert.deepEqual(await page.locator(".admin-nav a").allTextContents(), ["Grievances"]);

      await page.getByLabel("Category").selectOption("water");
      await page.getByRole("button", { name: "Filter" }).click();
      await page.waitForURL(/category=water/);
      const rows = page.locator("tbody tr[data-reference]");
      assert.equal(await rows.count(), 1);
      assert.equal(await rows.first().getAttribute("data-reference"), water.reference);

      await page.getByRole("link", { name: water.reference }).click();
      await page.waitForURL(/\/admin\/grievances\/[0-9a-f-]{36}$/);
      await page.locator('select[name="assignee"]').selectOption("me");
      await page.getByRole("button", { name: "Assign" }).click();
      await page.locator(".notice").waitFor();

      const move = page.locator('form[action$="/status"]');
      await move.locator('select[name="status"]').selectOption("in_review");
      await move.getByLabel("Note").fill("Checked on site: the pump is broken.");
      await page.getByRole("button", { name: "Move" }).click();
      await page.locator('[data-testid="status"]', { hasText: "In review" }).waitFor();

      const answer = page.locator('form[action$="/answer"]');
      await answer.locator('textarea[name="answer"]').fill("A new pump was fitted this morning.");
      await answer.locator('select[name="status"]').selectOption("resolved");
      await page.getByRole("button", { name: "Send answer" }).click();
      await page.locator('[data-testid="status"]', { hasText: "Resolved" }).waitFor();

      const history = await page.locator('[data-testid="history"] tr').evaluateAll((trs) =>
        trs.map((tr) => [
          tr.getAttribute("data-action"),
          tr.children[1].textContent,
          tr.children[2].textContent,
          tr.children[3].textContent,
        ])
      );
      assert.deepEqual(history, [
        ["submitted", "system", "Submitted (web)", ""],
        ["classified", "system", "Classified by the AI: water", ""],
        ["assigned", OFFICER.email, `Assigned to ${OFFICER.email}`, ""],
        [
          "status",
          OFFICER.email,
          "Classified → In review",
          "Checked on site: the pump is broken.",
        ],
        ["answered", OFFICER.email, "Answered the complainant (email)", ""],
        ["status", OFFICER.email, "In review → Resolved", ""],
      ]);
      assert.deepEqual(problems.all(), []);

      const elsewhere = await page.goto(app.url + "/admin/users");
      assert.equal(elsewhere?.status(), 404);
    });
  },
);
