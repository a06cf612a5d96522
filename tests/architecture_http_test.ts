/**
 * The floors stay apart: `lib/` is the domain and knows nothing of our HTTP layer. It imports
 * no web framework and nothing from `routes/` or `jobs/`, and it builds no `Response` (the web
 * layer answers; a protocol client may wrap an upstream's). The sandbox fakes under
 * `lib/sandbox/` are servers by nature and are left out.
 */
import assert from "node:assert/strict";
import { importsOf, sourceFiles } from "./imports.ts";

const ROOT = new URL("../", import.meta.url);

/** Protocol clients that re-wrap an upstream's `Response` (not an answer of ours). */
const WRAPS_UPSTREAM_RESPONSES = new Set(["lib/ai/fetch.ts"]);

const isSandbox = (path: string) => path === "lib/sandbox.ts" || path.startsWith("lib/sandbox/");

/** The domain's files: everything under lib/ but the sandbox fakes. */
async function domainFiles(): Promise<{ path: string; text: string }[]> {
  const files = [];
  for await (const path of sourceFiles("lib")) {
    if (isSandbox(path)) continue;
    files.push({ path, text: await Deno.readTextFile(new URL(path, ROOT)) });
  }
  assert.ok(files.length > 50, `only ${files.length} files found under lib/`);
  return files;
}

const isWebFramework = (specifier: string) =>
  /^(npm:)?(hono|@hono\/[^/]+)(@[^/]*)?(\/|$)/.test(specifier);

Deno.test("importsOf finds static, re-exported, side-effect and dynamic imports", () => {
  const text = [
    'import { Hono } from "hono";',
    "import type {",
    "  Context,",
    '} from "hono";',
    'export { z } from "@hono/zod-openapi";',
    'import "./side.ts";',
    'const m = await import("../routes/x.ts");',
  ].join("\n");
  assert.deepEqual(importsOf(text).sort(), [
    "../routes/x.ts",
    "./side.ts",
    "@hono/zod-openapi",
    "hono",
    "hono",
  ]);
  assert.ok(isWebFramework("hono/cookie") && isWebFramework("npm:hono@4/cors"));
  assert.ok(!isWebFramework("honorific") && !isWebFramework("./hono.ts"));
});

Deno.test("lib/ imports no web framework (Hono) and nothing from routes/ or jobs/", async () => {
  const offenders: string[] = [];
  for (const { path, text } of await domainFiles()) {
    for (const specifier of importsOf(text)) {
      if (isWebFramework(specifier)) offenders.push(`${path} imports ${specifier}`);
      if (!specifier.startsWith(".")) continue;
      const target = new URL(specifier, new URL(path, ROOT)).href.slice(ROOT.href.length);
      if (/^(routes|jobs)\//.test(target)) offenders.push(`${path} imports ${specifier}`);
    }
  }
  assert.deepEqual(offenders, []);
});

Deno.test("lib/ builds no Response of its own: the web layer answers", async () => {
  const offenders: string[] = [];
  for (const { path, text } of await domainFiles()) {
    // A test may play an upstream's part with a small server of its own.
    if (WRAPS_UPSTREAM_RESPONSES.has(path) || path.endsWith("_test.ts")) continue;
    const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
    if (/\bnew Response\s*\(|\bResponse\.(json|redirect|error)\s*\(/.test(code)) {
      offenders.push(path);
    }
  }
  assert.deepEqual(offenders, []);
});

Deno.test("the error type carries no HTTP status or headers", async () => {
  const { AppError } = await import("../lib/errors.ts");
  const error = new AppError("rate_limited", "Too many.", { retryAfterSeconds: 3 });
  assert.equal("status" in error, false);
  assert.equal("headers" in error, false);
  assert.deepEqual(error.details, { retryAfterSeconds: 3 });
});
