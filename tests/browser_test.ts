/**
 * In a real browser (Debian chromium): the home page's island hydrates under the page's strict CSP
 * and then changes the page through its own code. Skipped with a note when chromium is absent.
 */
import assert from "node:assert/strict";
import { chromiumAvailable, withPage } from "./browser.ts";
import { startTestApp } from "./harness.ts";

const OK_LABEL = "All systems working";
const DEGRADED_LABEL = "Some parts are down; we are on it";

Deno.test({
  name: "the home page's HealthStatus island hydrates in chromium and refreshes from /health",
  ignore: !chromiumAvailable(),
  async fn() {
    const app = await startTestApp();
    try {
      // What the server renders, before any script runs.
      const html = await (await app.fetch("/")).text();
      assert.match(html, /data-island="HealthStatus"/);
      assert.match(html, new RegExp(`data-testid="status-label">${OK_LABEL}<`));
      assert.doesNotMatch(html, /data-hydrated/);

      await withPage(async ({ page, problems }) => {
        const res = await page.goto(app.url + "/");
        assert.equal(res?.status(), 200);
        assert.match(res!.headers()["content-security-policy"] ?? "", /script-src 'self'/);

        // lib/islands/client.ts marks the wrapper once hydrate() returned.
        const island = page.locator('[data-island="HealthStatus"][data-hydrated="true"]');
        await island.waitFor();
        const label = island.getByTestId("status-label");
        assert.equal(await label.textContent(), OK_LABEL);
        await page.waitForLoadState("networkidle");
        await page.screenshot({ path: "/tmp/hurukuro-home.png", fullPage: true });
        assert.deepEqual(problems.all(), [], "the page loaded without errors or CSP violations");

        // Only the hydrated island's click handler can turn the label into the degraded text.
        await app.server.db.close();
        const health = page.waitForResponse((r) => new URL(r.url()).pathname === "/health");
        await island.getByRole("button", { name: "Check again" }).click();
        assert.equal((await health).status(), 503);
        await island.locator(".status-degraded").waitFor();
        assert.equal(await label.textContent(), DEGRADED_LABEL);
        await island.getByRole("button", { name: "Check again" }).waitFor();
        await page.screenshot({ path: "/tmp/hurukuro-home-degraded.png", fullPage: true });
        // The 503 is the one expected problem (chromium logs every ≥ 400 load as an error).
        assert.deepEqual(problems.httpErrors, [`503 GET ${app.url}/health`]);
        assert.deepEqual(problems.pageErrors, []);
        assert.deepEqual(problems.failedRequests, []);
        assert.deepEqual(problems.cspViolations, []);
        assert.ok(
          problems.consoleErrors.every((m) => m.includes("status of 503")),
          problems.consoleErrors.join("\n"),
        );
      });
    } finally {
      await app.close();
    }
  },
});
