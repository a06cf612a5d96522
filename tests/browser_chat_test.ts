/**
 * In a real browser (Debian chromium): a user signs in, asks a question on /chat, watches the
 * answer arrive piece by piece (markdown rendered, raw HTML shown as text), and sees the balance
 * drop — on a phone-sized screen.
 */
import assert from "node:assert/strict";
import { browserTest, withPage } from "./browser.ts";
import { signUpByApi } from "./browser_users.ts";
import { startChatApp } from "./chat_app.ts";

const REPLY = "Here is **the answer**: <b>not bold</b> and a list:\n\n" +
  Array.from({ length: 12 }, (_, i) => `- point number ${i + 1} about maize`).join("\n");

browserTest(
  "a user asks on /chat and sees the answer stream in; the balance drops",
  async () => {
    await using chat = await startChatApp({
      model: { reply: REPLY, deltaDelayMs: 40, firstTokenDelayMs: 50 },
    });
    const { app } = chat;
    const customer = await signUpByApi(app, { tokens: 20_000 });

    await withPage(async ({ page, problems }) => {
      await page.goto(app.url + "/chat");
      await page.waitForURL(/\/login\?next=/);
      await page.getByLabel("E-mail").fill(customer.email);
      await page.getByLabel("Password").fill(customer.password);
      await page.getByRole("button", { name: "Log in" }).click();
      await page.waitForURL(app.url + "/chat");
      await page.locator('[data-island="Chat"][data-hydrated="true"]').waitFor();
      assert.equal(await page.getByTestId("balance").textContent(), "20,000");
      assert.ok(await page.getByRole("link", { name: "Chat" }).isVisible(), "in the site nav");

      await page.getByTestId("chat-input").fill("How do I grow maize?");
      await page.getByTestId("send").click();
      const answer = page.getByTestId("answer").last();
      // Sample the answer's text while it streams: it must grow in several steps.
      const lengths: number[] = [];
      const until = Date.now() + 15_000;
      while (Date.now() < until) {
        const text = (await answer.textContent().catch(() => "")) ?? "";
        if (lengths.at(-1) !== text.length) lengths.push(text.length);
        if (await page.getByTestId("send").isVisible().catch(() => false)) break;
        await page.waitForTimeout(30);
      }
      // (Markdown can shorten the text for a moment — `**the` becomes bold `the` — and the
      // "Thinking…" placeholder goes away with the first piece: count the steps up.)
      const ups = lengths.filter((n, i) => i > 0 && n > lengths[i - 1]).length;
      assert.ok(ups >= 5, `grew in steps: ${lengths.join(", ")}`);
      assert.ok(lengths.at(-1)! > 200, `whole answer shown: ${lengths.join(", ")}`);

      await page.getByText("point number 12 about maize").waitFor();
      const html = await answer.innerHTML();
      assert.match(html, /<strong>the answer<\/strong>/, "markdown rendered");
      assert.match(html, /&lt;b&gt;not bold&lt;\/b&gt;/, "raw HTML shown as text");
      assert.equal(await answer.locator("li").count(), 12);

      const balance = Number(
        (await page.getByTestId("balance").textContent())!.replace(/,/g, ""),
      );
      const [row] = await app.server.db.sql`select cost from messages
                                            where role = 'assistant' and user_id = ${customer.id}`;
      assert.ok(Number(row.cost) > 0);
      assert.equal(balance, 20_000 - Number(row.cost), "the balance dropped by the cost");

      assert.deepEqual(problems.all(), []);

      // The conversation is listed and survives a reload.
      await page.reload();
      await page.locator('[data-island="Chat"][data-hydrated="true"]').waitFor();
      // Leaving the page cut the live-events stream of the previous one: expected.
      problems.clear();
      await page.getByText("point number 12 about maize").waitFor();
      assert.equal(await page.getByTestId("balance").textContent(), balance.toLocaleString("en"));
      assert.deepEqual(problems.all(), []);
    }, { viewport: { width: 390, height: 844 } });
  },
);
