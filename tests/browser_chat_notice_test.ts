/**
 * In a real browser (Debian chromium): a question refused for want of tokens shows its notice
 * whole — the sentence and its "Top up" link inside the window and clear of the message box —
 * on a desktop (1366×768) and a phone (390×844), with no empty answer bubble left behind and no
 * raw URL printed before the link.
 */
import assert from "node:assert/strict";
import { browserTest, withPage } from "./browser.ts";
import { logInOnPage, signUpByApi } from "./browser_users.ts";
import { startTestApp } from "./harness.ts";
import { FAKE_OPENAI_KEY, startFakeOpenAI } from "../lib/sandbox/openai.ts";

const SIZES = [{ width: 1366, height: 768 }, { width: 390, height: 844 }];

browserTest(
  "the out-of-tokens notice is fully visible above the message box on desktop and phone",
  async () => {
    const fake = await startFakeOpenAI();
    const app = await startTestApp({
      env: { OPENAI_API_KEY: FAKE_OPENAI_KEY, OPENAI_BASE_URL: fake.baseUrl },
    });
    try {
      const user = await signUpByApi(app, { tokens: 5 });
      await withPage(async ({ page, problems }) => {
        await logInOnPage(page, app, user, "/chat");
        for (const size of SIZES) {
          await page.setViewportSize(size);
          await page.goto(app.url + "/chat");
          await page.locator('[data-island="Chat"][data-hydrated="true"]').waitFor();
          problems.clear(); // leaving the previous page cut its live-events stream: expected
          await page.getByTestId("chat-input").fill("How do I grow maize?");
          await page.getByTestId("send").click();
          const notice = page.getByTestId("chat-error");
          await notice.waitFor();
          const text = (await notice.textContent()) ?? "";
          assert.match(text, /enough tokens/, text);
          assert.doesNotMatch(text, /https?:\/\//, `no raw URL in the notice: ${text}`);

          const box = (await notice.boundingBox())!;
          const link = (await notice.getByRole("link", { name: /top up/i }).boundingBox())!;
          const composer = (await page.locator("form.chat-form").boundingBox())!;
          const where = `${size.width}×${size.height}: notice ${JSON.stringify(box)}, ` +
            `composer ${JSON.stringify(composer)}`;
          assert.ok(box.y >= 0 && box.y + box.height <= size.height, `in the window: ${where}`);
          assert.ok(link.y >= 0 && link.y + link.height <= size.height, `link shown: ${where}`);
          assert.ok(box.y + box.height <= composer.y + 0.5, `not under the composer: ${where}`);
          // The link is what a click there reaches (nothing drawn over it).
          const hit = await notice.getByRole("link").evaluate((a) => {
            const r = a.getClientRects()[0];
            const el = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
            return el?.closest("a") === a ? "the link" : el?.outerHTML.slice(0, 120) ?? "nothing";
          });
          assert.equal(hit, "the link", where);

          assert.equal(await page.getByTestId("answer").count(), 0, "no empty answer bubble");
          // The 402 answer (and the browser's note of it) is the expected one.
          assert.deepEqual(problems.all().filter((p) => !/\b402\b/.test(p)), []);
        }
      });
    } finally {
      await app.close();
      await fake.close();
    }
  },
);
