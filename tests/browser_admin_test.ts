/**
 * In a real browser (Debian chromium): an admin logs in, sees the overview's charts drawn
 * (canvas pixels read back), switches the range without a reload, adjusts a user's balance and
 * finds it in the audit log, all under the strict CSP (violations are collected); the dashboard
 * fits a phone's width; a normal user gets no access. Skipped with a note without chromium.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { browserTest, withPage } from "./browser.ts";
import { ADMIN, appWithAdmin } from "./browser_users.ts";
import { createUser } from "../lib/accounts/users.ts";
import type { Sql } from "../lib/db/mod.ts";
import { addDays, dayIn } from "../lib/metrics/days.ts";
import { seeded } from "./fixtures/metrics_data.ts";
import { paidPayment } from "./fixtures/payments.ts";

const USER = { email: "chipo@example.com", password: "another long password" };

/** A year of stored daily figures, shaped differently in the last 30 days than before. */
async function seedYear(sql: Sql, yesterday: string) {
  const random = seeded(3);
  const metric: string[] = [];
  const dims: string[] = [];
  const day: string[] = [];
  const value: string[] = [];
  const add = (d: string, m: string, v: number, k = "") => {
    day.push(d);
    metric.push(m);
    dims.push(k);
    value.push(String(v));
  };
  for (let i = 0; i < 365; i++) {
    const d = addDays(yesterday, -i);
    const recent = i < 30 ? 2 : 1;
    add(d, "users.new", Math.round(random() * 40 * recent));
    add(d, "users.active", Math.round(200 + random() * 100 * recent));
    add(d, "messages.in", Math.round(1500 + random() * 800 * recent));
    add(d, "messages.out", Math.round(1400 + random() * 800 * recent));
    add(d, "payments.started", Math.round(60 + random() * 30));
    add(d, "payments.paid", Math.round(40 + random() * 20 * recent));
    add(d, "payments.failed", Math.round(random() * 10));
    add(d, "payments.paid_amount", Math.round(100 + random() * 300) / 1, "currency=USD");
    add(d, "wallet.tokens_sold", Math.round(200_000 + random() * 100_000));
    add(d, "wallet.tokens_used", Math.round(150_000 + random() * 100_000));
    add(d, "ai.latency_p95_ms", Math.round(3000 + random() * 2000));
    add(d, "ai.ttft_p95_ms", Math.round(500 + random() * 400));
  }
  await sql`insert into daily_metrics (day, metric, dims, value)
            select d::date, m, k, v::numeric
            from unnest(${day}::text[], ${metric}::text[], ${dims}::text[], ${value}::text[])
              as t(d, m, k, v)`;
}

/** For each chart canvas: the share of its pixels that something was drawn on. */
function inkedShares(page: Page): Promise<Record<string, number>> {
  return page.evaluate(() => {
    const out: Record<string, number> = {};
    for (const canvas of document.querySelectorAll<HTMLCanvasElement>("canvas[data-chart]")) {
      const { width, height } = canvas;
      const pixels = canvas.getContext("2d")!.getImageData(0, 0, width, height).data;
      let inked = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
      out[canvas.dataset.chart!] = width * height ? inked / (width * height) : 0;
    }
    return out;
  });
}

const fingerprint = (page: Page, chart: string) =>
  page.evaluate((name) =>
    document.querySelector<HTMLCanvasElement>(`canvas[data-chart="${name}"]`)!
      .toDataURL(), chart);

async function logIn(page: Page, who: { email: string; password: string }) {
  await page.getByLabel("E-mail").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Log in" }).click();
}

browserTest(
  "an admin sees the charts drawn, switches the range, adjusts a balance and finds it audited",
  async () => {
    await using app = await appWithAdmin();
    const sql = app.server.db.sql;
    const yesterday = addDays(dayIn(new Date(), app.server.config.tzMetrics), -1);
    await seedYear(sql, yesterday);
    const user = await createUser(sql, { ...USER, displayName: "Chipo" });

    await withPage(async ({ page, problems }) => {
      const first = await page.goto(app.url + "/admin");
      assert.equal(first?.status(), 200);
      await page.waitForURL(/\/login\?next=%2Fadmin$/);
      await logIn(page, ADMIN);
      await page.waitForURL(app.url + "/admin");

      const metrics = page.locator('[data-island="MetricsChart"][data-hydrated="true"]');
      await metrics.waitFor();
      await page.locator('.metrics[data-drawn="30"]').waitFor();
      const shares = await inkedShares(page);
      assert.deepEqual(Object.keys(shares).sort(), [
        "latency",
        "messages",
        "payments",
        "revenue",
        "tokens",
        "users",
      ]);
      for (const [chart, share] of Object.entries(shares)) {
        assert.ok(share > 0.01, `${chart}: ${(share * 100).toFixed(2)} % of pixels drawn`);
      }
      assert.match(
        await page.locator('[data-kpi="usersNew"] .change').textContent() ?? "",
        /▲ \d+(\.\d)? % vs previous/,
        "the last 30 days had twice the sign-ups of the 30 before",
      );
      await page.locator('.feed[data-state="live"]').waitFor();
      // A payment settles while the admin watches: the live feed shows it.
      await paidPayment(sql, user.id, "WATCHED-1");
      const item = page.locator(".feed li", { hasText: "WATCHED-1" });
      await item.waitFor();
      assert.match(await item.textContent() ?? "", /Payment paid/);
      await page.screenshot({ path: "/tmp/hurukuro-admin-overview.png", fullPage: true });

      // The range switch redraws in place: no navigation, the page's state survives.
      const before = await fingerprint(page, "messages");
      await page.evaluate(() => (globalThis as Record<string, unknown>).__samePage = true);
      const fetched = page.waitForResponse((r) =>
        new URL(r.url()).pathname === "/admin/api/metrics"
      );
      await page.getByRole("button", { name: "90 days" }).click();
      assert.equal((await fetched).status(), 200);
      await page.locator('.metrics[data-drawn="90"]').waitFor();
      assert.equal(
        await page.evaluate(() => (globalThis as Record<string, unknown>).__samePage),
        true,
      );
      assert.equal(new URL(page.url()).searchParams.get("range"), "90");
      assert.equal(
        await page.getByRole("button", { name: "90 days" }).getAttribute("aria-pressed"),
        "true",
      );
      assert.notEqual(await fingerprint(page, "messages"), before, "the chart was redrawn");
      for (const [chart, share] of Object.entries(await inkedShares(page))) {
        assert.ok(share > 0.01, `${chart} after the switch`);
      }
      await page.screenshot({ path: "/tmp/hurukuro-admin-overview-90.png", fullPage: true });

      // Users → search → the user → adjust → the audit log.
      await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Users" })
        .click();
      await page.getByLabel("Search").fill("chipo");
      await page.getByRole("button", { name: "Search" }).click();
      await page.getByRole("link", { name: USER.email }).click();
      await page.waitForURL(`${app.url}/admin/users/${user.id}`);
      await page.getByLabel("Tokens (negative to take away)").fill("1234");
      await page.getByLabel(/^Reason \(required/).fill("Goodwill credit after a failed top-up");
      await page.getByRole("button", { name: "Adjust" }).click();
      await page.waitForURL(/notice=adjusted/);
      assert.equal(await page.getByRole("status").textContent(), "Balance adjusted.");
      assert.equal(await page.getByTestId("balance").textContent(), "1234");

      await page.getByRole("navigation", { name: "Admin" }).getByRole("link", {
        name: "Audit log",
      }).click();
      const row = page.locator('tr[data-action="user.adjust_balance"]');
      await row.waitFor();
      assert.match(await row.textContent() ?? "", /Goodwill credit after a failed top-up/);
      assert.match(await row.textContent() ?? "", /admin@example\.com/);
      assert.match(await row.textContent() ?? "", /balance 0 → 1234/);

      // Leaving the overview closes its event stream: chromium reports that as an aborted
      // request, which is the stream ending, not a problem.
      const real = problems.failedRequests.filter((r) =>
        !(r.includes("/admin/api/feed") && r.includes("ERR_ABORTED"))
      );
      assert.deepEqual(real, []);
      assert.deepEqual(problems.cspViolations, []);
      assert.deepEqual(problems.pageErrors, []);
      assert.deepEqual(problems.consoleErrors, []);
      assert.deepEqual(problems.httpErrors, []);
    });
  },
);

browserTest(
  "the dashboard fits a phone's width, and a normal user gets no access to /admin",
  async () => {
    await using app = await appWithAdmin();
    const sql = app.server.db.sql;
    await seedYear(sql, addDays(dayIn(new Date(), app.server.config.tzMetrics), -1));
    await createUser(sql, USER);
    await withPage(async ({ page, problems }) => {
      await page.goto(app.url + "/login?next=/admin");
      await logIn(page, ADMIN);
      await page.waitForURL(app.url + "/admin");
      await page.locator('.metrics[data-drawn="30"]').waitFor();
      for (const path of ["/admin", "/admin/users", "/admin/payments", "/admin/settings"]) {
        await page.goto(app.url + path);
        const overflow = await page.evaluate(() =>
          document.documentElement.scrollWidth - document.documentElement.clientWidth
        );
        assert.ok(overflow <= 0, `${path} is ${overflow}px wider than the phone`);
      }
      await page.goto(app.url + "/admin");
      await page.locator('.metrics[data-drawn="30"]').waitFor();
      const shares = await inkedShares(page);
      assert.ok(Object.values(shares).every((s) => s > 0.01), JSON.stringify(shares));
      await page.screenshot({ path: "/tmp/hurukuro-admin-phone.png", fullPage: true });
      assert.deepEqual(problems.cspViolations, []);
      assert.deepEqual(problems.pageErrors, []);
    }, { viewport: { width: 390, height: 844 } });

    await withPage(async ({ page, problems }) => {
      await page.goto(app.url + "/login");
      await logIn(page, USER);
      await page.waitForURL(app.url + "/account");
      for (const path of ["/admin", "/admin/users", "/admin/audit", "/admin/api/metrics"]) {
        const res = await page.goto(app.url + path);
        assert.equal(res?.status(), 404, path);
      }
      assert.equal(await page.locator("h1").textContent(), "Page not found");
      // The 404s are the expected answers (chromium logs each as a console error too).
      assert.equal(problems.httpErrors.length, 4);
      assert.deepEqual(problems.cspViolations, []);
      assert.deepEqual(problems.pageErrors, []);
    });
  },
);
