/**
 * `deno task screenshots`: PNGs of the home, sign-up, account, chat and admin overview pages at a
 * laptop's (1366×768) and a phone's (390×844) size, into docs/screenshots/ (shown in docs/web.md).
 * Starts its own server on a fresh embedded database in a temporary directory, with the sandbox
 * answering every upstream, and drives Debian chromium (npm `playwright-core`).
 */
import { chromium, type Page } from "playwright-core";
import { start } from "../main.ts";

const OUT = new URL("../docs/screenshots/", import.meta.url).pathname;
const VIEWPORTS = [{ width: 1366, height: 768 }, { width: 390, height: 844 }];
const ADMIN = { email: "admin@example.com", password: "screenshots admin password" };
const CUSTOMER = { email: "tariro@example.com", password: "screenshots customer password" };

async function logIn(page: Page, url: string, who: typeof ADMIN, next: string) {
  await page.goto(`${url}/login?next=${encodeURIComponent(next)}`);
  await page.getByLabel("E-mail").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(url + next);
}

const dataDir = await Deno.makeTempDir({ prefix: "hurukuro-screenshots-" });
const running = await start({
  env: {
    HURUKURO_ENV: "development",
    PORT: "0",
    DATA_DIR: dataDir,
    LOG_LEVEL: "warn",
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
  },
  cron: false,
});
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu"],
});
try {
  const signUp = await fetch(`${running.url}/api/v1/auth/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...CUSTOMER, displayName: "Tariro" }),
  });
  if (signUp.status !== 201) throw new Error(`sign-up: ${signUp.status} ${await signUp.text()}`);
  await Deno.mkdir(OUT, { recursive: true });
  for (const viewport of VIEWPORTS) {
    const size = `${viewport.width}x${viewport.height}`;
    const shot = (page: Page, name: string) =>
      page.screenshot({ path: `${OUT}${name}-${size}.png` });
    const anonymous = await browser.newPage({ viewport });
    await anonymous.goto(running.url + "/");
    await shot(anonymous, "home");
    await anonymous.goto(running.url + "/signup");
    await shot(anonymous, "signup");
    await anonymous.close();

    const customer = await browser.newPage({ viewport });
    await logIn(customer, running.url, CUSTOMER, "/account");
    await shot(customer, "account");
    await customer.goto(running.url + "/chat");
    await customer.locator('[data-island="Chat"][data-hydrated="true"]').waitFor();
    await shot(customer, "chat");
    await customer.close();

    const admin = await browser.newPage({ viewport });
    await logIn(admin, running.url, ADMIN, "/admin");
    await admin.locator('[data-island="MetricsChart"][data-hydrated="true"]').waitFor();
    await shot(admin, "admin-overview");
    await admin.close();
  }
  console.log(`screenshots written to ${OUT}`);
} finally {
  await browser.close();
  await running.shutdown();
  await Deno.remove(dataDir, { recursive: true }).catch(() => {});
}
