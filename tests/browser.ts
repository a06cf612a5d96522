/**
 * Browser tests: Debian's `chromium` driven by npm `playwright-core` (never a downloaded browser:
 * the system one needs no network). Every browser test is declared with `browserTest`, so a
 * machine without chromium skips them with one note on stderr instead of failing.
 *
 * ```ts
 * browserTest("…", () =>
 *   withPage(async ({ page, problems }) => {
 *     await page.goto(app.url + "/");
 *     …
 *     assert.deepEqual(problems.all(), []);
 *   }));
 * ```
 */
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM_PATH = "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let availability: boolean | undefined;

/** Whether Debian chromium is installed; the first `false` prints why the tests are skipped. */
export function chromiumAvailable(): boolean {
  if (availability !== undefined) return availability;
  try {
    availability = Deno.statSync(CHROMIUM_PATH).isFile;
  } catch {
    availability = false;
  }
  if (!availability) {
    console.error(
      `browser tests skipped: ${CHROMIUM_PATH} not found (apt-get install chromium to run them)`,
    );
  }
  return availability;
}

/** Declares a browser test, skipped where chromium is missing (see {@link chromiumAvailable}). */
export function browserTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: !chromiumAvailable(), fn });
}

/** Launches headless Debian chromium. Close it (`browser.close()`) in a `finally`. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
}

/** What went wrong on a page while it was watched; a healthy page leaves every list empty. */
export interface PageProblems {
  /** `console.error` calls and browser-logged errors (CSP refusals and failed loads among them). */
  consoleErrors: string[];
  /** Uncaught exceptions and unhandled rejections in the page. */
  pageErrors: string[];
  /** Requests that got no response at all (refused, aborted, blocked). */
  failedRequests: string[];
  /** Responses with status ≥ 400, as `STATUS METHOD URL`. */
  httpErrors: string[];
  /** `securitypolicyviolation` events, as `directive blocked-uri`. */
  cspViolations: string[];
  /** Every problem above in one list (empty when the page was healthy). */
  all(): string[];
  /** Forgets what was collected so far (e.g. before a step that is expected to fail). */
  clear(): void;
}

const CSP_BINDING = "__hurukuroCspViolation";

/**
 * Records a context's console errors, page errors, failed requests, HTTP errors and CSP
 * violations, on every page it opens from now on.
 */
export async function watchContext(context: BrowserContext): Promise<PageProblems> {
  const problems: PageProblems = {
    consoleErrors: [],
    pageErrors: [],
    failedRequests: [],
    httpErrors: [],
    cspViolations: [],
    all() {
      return [
        ...this.consoleErrors.map((m) => `console error: ${m}`),
        ...this.pageErrors.map((m) => `page error: ${m}`),
        ...this.failedRequests.map((m) => `request failed: ${m}`),
        ...this.httpErrors.map((m) => `http error: ${m}`),
        ...this.cspViolations.map((m) => `CSP violation: ${m}`),
      ];
    },
    clear() {
      for (
        const list of [
          this.consoleErrors,
          this.pageErrors,
          this.failedRequests,
          this.httpErrors,
          this.cspViolations,
        ]
      ) list.length = 0;
    },
  };
  // A binding and an init script run outside the page's CSP, so watching adds no exception to it.
  await context.exposeBinding(CSP_BINDING, (_source, violation: string) => {
    problems.cspViolations.push(violation);
  });
  await context.addInitScript(`document.addEventListener("securitypolicyviolation", (e) =>
    window.${CSP_BINDING}(e.effectiveDirective + " " + (e.blockedURI || "inline") +
      (e.sourceFile ? " at " + e.sourceFile + ":" + e.lineNumber : "")));`);
  const watch = (page: Page) => {
    page.on("console", (msg) => {
      if (msg.type() !== "error") return;
      const at = msg.location().url;
      // The browser asks for /favicon.ico on its own; the pages link no icon, so that 404 is
      // the browser's guess, not the page's problem.
      if (at && new URL(at).pathname === "/favicon.ico") return;
      problems.consoleErrors.push(at ? `${msg.text()} (${at})` : msg.text());
    });
    page.on("pageerror", (error) => problems.pageErrors.push(String(error.stack ?? error)));
    page.on("requestfailed", (request) => {
      problems.failedRequests.push(
        `${request.method()} ${request.url()}: ${request.failure()?.errorText ?? "failed"}`,
      );
    });
    page.on("response", (response) => {
      if (response.status() >= 400) {
        problems.httpErrors.push(
          `${response.status()} ${response.request().method()} ${response.url()}`,
        );
      }
    });
  };
  context.pages().forEach(watch);
  context.on("page", watch);
  return problems;
}

export interface PageSession {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  problems: PageProblems;
}

/**
 * Launches chromium, opens one watched page, runs `fn`, and always closes the browser (also when
 * `fn` throws), so no chromium process or Deno resource outlives the test.
 */
export async function withPage<T>(
  fn: (session: PageSession) => Promise<T>,
  options: { viewport?: { width: number; height: number } } = {},
): Promise<T> {
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext({
      viewport: options.viewport ?? { width: 1024, height: 768 },
    });
    const problems = await watchContext(context);
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    return await fn({ browser, context, page, problems });
  } finally {
    await browser.close();
  }
}
