/**
 * In a real browser (Debian chromium): a page served from a second origin — with a strict CSP of
 * its own — embeds a bot with one script tag; a visitor opens the bubble, asks, and watches a
 * streamed answer arrive with its citation. The same snippet on a website the owner did not
 * allow gets nothing: the API refuses it (403, no CORS) and the model is never called.
 */
import assert from "node:assert/strict";
import { browserTest, withPage } from "./browser.ts";
import { startTestApp } from "./harness.ts";
import { FAKE_OPENAI_KEY, startFakeOpenAI } from "../lib/sandbox/openai.ts";
import { signup, textSource } from "./fixtures/bots.ts";

/** A website on its own origin (another loopback port) whose page embeds the bot. */
function hostPage(appUrl: string, key: string) {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () =>
      new Response(
        `<!doctype html><html><head><meta charset="utf-8"><title>Shop</title></head>` +
          `<body><h1>Our shop</h1>` +
          `<script src="${appUrl}/embed.js?bot=${key}" async></script></body></html>`,
        {
          headers: {
            "content-type": "text/html; charset=utf-8",
            // The host's own strict policy: our widget must need nothing but these two.
            "content-security-policy": `default-src 'self'; script-src 'self' ${appUrl}; ` +
              `connect-src ${appUrl}; style-src 'self'; img-src 'self'`,
          },
        },
      ),
  );
  return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

browserTest(
  "a bot embedded on an allowed website answers a visitor, streamed and cited",
  async () => {
    const fake = await startFakeOpenAI({ deltaDelayMs: 25, firstTokenDelayMs: 30 });
    const app = await startTestApp({
      env: { OPENAI_API_KEY: FAKE_OPENAI_KEY, OPENAI_BASE_URL: fake.baseUrl },
    });
    const allowed = hostPage(app.url, "pending");
    try {
      const owner = await signup(app, 100_000);
      const headers = { "content-type": "application/json", ...owner.auth };
      const bot = await (await app.fetch("/api/v1/bots", {
        method: "POST",
        headers,
        body: JSON.stringify({
          name: "Shop helper",
          greeting: "Hi! Ask me about the shop.",
          allowedOrigins: [allowed.url],
        }),
      })).json();
      await allowed.close();
      const site = hostPage(app.url, bot.publicKey);
      const other = hostPage(app.url, bot.publicKey);
      await app.fetch(`/api/v1/bots/${bot.id}`, {
        method: "PATCH",
        headers,
        body: JSON.stringify({ allowedOrigins: [site.url] }),
      });
      const source = await textSource(app, owner.auth, bot.id, {
        title: "Delivery",
        text: "# Delivery\n\nParcels to Bulawayo arrive in three working days.",
      });
      for (let i = 0; i < 200; i++) {
        const s = await (await app.fetch(`/api/v1/bots/${bot.id}/sources/${source.id}`, {
          headers: owner.auth,
        })).json();
        if (s.status === "ready") break;
        await new Promise((r) => setTimeout(r, 50));
      }
      try {
        await withPage(async ({ page, problems }) => {
          await page.goto(site.url);
          const widget = page.locator(`[data-hurukuro-bot="${bot.publicKey}"]`);
          await widget.getByRole("button", { name: "Chat with us" }).click();
          await widget.getByText("Hi! Ask me about the shop.").waitFor();
          await widget.getByLabel("Your question").fill("How long do parcels to Bulawayo take?");
          await widget.getByRole("button", { name: "Send" }).click();
          const answer = widget.getByTestId("answer").last();
          const lengths: number[] = [];
          const until = Date.now() + 15_000;
          while (Date.now() < until) {
            const text = (await answer.textContent()) ?? "";
            if (lengths.at(-1) !== text.length) lengths.push(text.length);
            if (await answer.getAttribute("data-done")) break;
            await page.waitForTimeout(20);
          }
          assert.ok(lengths.length >= 3, `the answer grew in steps: ${lengths}`);
          const text = await answer.locator(".text").textContent();
          assert.match(text ?? "", /According to \[1\], Parcels to Bulawayo arrive/);
          assert.equal(await answer.locator(".cites li").textContent(), "[1] Delivery");
          await answer.getByRole("button", { name: "Helpful", exact: true }).click();
          await answer.locator('button[aria-pressed="true"]').waitFor();
          assert.deepEqual(problems.all(), []);
        });
        const [rated] = await app.server.db.sql`
          select feedback from messages where bot_id = ${bot.id} and role = 'assistant'`;
        assert.equal(rated.feedback, 1);

        const calls = fake.calls("/v1/chat/completions").length;
        await withPage(async ({ page, problems }) => {
          await page.goto(other.url);
          const widget = page.locator(`[data-hurukuro-bot="${bot.publicKey}"]`);
          await widget.getByRole("button", { name: "Chat with us" }).click();
          await widget.getByRole("alert").waitFor();
          assert.match(await widget.getByRole("alert").textContent() ?? "", /not available/);
          await widget.getByLabel("Your question").fill("Anything?");
          await widget.getByRole("button", { name: "Send" }).click();
          await widget.getByRole("alert").nth(1).waitFor();
          assert.equal(await widget.getByTestId("answer").count(), 0);
          // The browser saw the refusals: no CORS answer for this origin.
          assert.ok(problems.consoleErrors.some((e) => /CORS/.test(e)), problems.all().join("\n"));
        });
        assert.equal(fake.calls("/v1/chat/completions").length, calls, "the model was not asked");
        const refused = await app.fetch(`/api/v1/bots/embed/${bot.publicKey}/messages`, {
          method: "POST",
          headers: { "content-type": "application/json", origin: other.url },
          body: JSON.stringify({ visitorId: "v_abcdefghijklmnopqrst", text: "Hello?" }),
        });
        assert.equal(refused.status, 403);
        assert.equal(refused.headers.get("access-control-allow-origin"), null);
      } finally {
        await site.close();
        await other.close();
      }
    } finally {
      await app.close();
      await fake.close();
    }
  },
);
