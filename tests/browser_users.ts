/** A customer for browser tests: signed up through the API, logged in through the web page. */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { credit, startTestApp, type TestApp } from "./harness.ts";

export interface TestCustomer {
  id: string;
  email: string;
  password: string;
  accessToken: string;
}

/** Signs a customer up through the API, with `tokens` credited when given. */
export async function signUpByApi(
  app: TestApp,
  options: { tokens?: number; displayName?: string } = {},
): Promise<TestCustomer> {
  const email = `web-${crypto.randomUUID()}@example.com`;
  const password = "correct horse battery";
  const res = await app.fetch("/api/v1/auth/signup", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password, displayName: options.displayName }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  const body = await res.json();
  if (options.tokens) await credit(app, body.user.id, options.tokens);
  return { id: body.user.id, email, password, accessToken: body.accessToken };
}

/** Logs in on /login and waits until the browser is on `next`. */
export async function logInOnPage(
  page: Page,
  app: TestApp,
  who: { email: string; password: string },
  next: string,
): Promise<void> {
  await page.goto(`${app.url}/login?next=${encodeURIComponent(next)}`);
  await page.getByLabel("E-mail").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(app.url + next);
}

/** The first admin of {@link appWithAdmin}: created from ADMIN_EMAIL/ADMIN_PASSWORD at start. */
export const ADMIN = { email: "admin@example.com", password: "correct horse battery staple" };

/** An app whose first admin is {@link ADMIN} (and `env`), for tests that act as them. */
export const appWithAdmin = (env: Record<string, string> = {}): Promise<TestApp> =>
  startTestApp({ env: { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, ...env } });
