/**
 * Every arrow points down: `lib/` (the domains) imports nothing of the web layer (`routes/`),
 * the job handlers (`jobs/`), the browser code (`islands/`), the tests (but for its own tests)
 * or the root (`main.ts`, `fresh.config.ts`); `jobs/` imports nothing of `routes/`; `lib/`
 * imports no Hono (tests/architecture_http_test.ts checks the rest of what HTTP means there).
 * Read from the import statements of every source file.
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT } from "./harness.ts";
import { importsOf, sourceFiles } from "./imports.ts";

/** What is imported: a file of ours (its path from the root) or a package (its specifier). */
type Target = { path: string } | { pkg: string };

interface Rule {
  /** Files the rule is about, by their path from the repository root. */
  applies(file: string): boolean;
  /** Why importing `target` is refused; null when it is not. */
  refuses(target: Target): string | null;
}

const under = (folder: string) => (path: string) => path.startsWith(folder + "/");

const RULES: Rule[] = [
  {
    applies: under("lib"),
    refuses: (t) =>
      !("path" in t)
        ? null
        : ["routes", "jobs", "islands"].some((f) => under(f)(t.path))
        ? "lib/ imports nothing from routes/, jobs/ or islands/"
        : !t.path.includes("/")
        ? "lib/ imports nothing from the repository root (pass settings in)"
        : null,
  },
  {
    // Product code never runs test code; tests beside it may use the harness.
    applies: (file) => under("lib")(file) && !/_test\.tsx?$/.test(file),
    refuses: (t) =>
      "path" in t && under("tests")(t.path) ? "lib/ imports nothing from tests/" : null,
  },
  {
    applies: under("lib"),
    refuses: (t) =>
      "pkg" in t && /^(npm:)?hono(\/|@|$)/.test(t.pkg)
        ? "lib/ knows no HTTP framework (Hono)"
        : null,
  },
  {
    applies: under("jobs"),
    refuses: (t) =>
      "path" in t && under("routes")(t.path) ? "jobs/ imports nothing from routes/" : null,
  },
];

/** The rule breaks of one file: `file` from the root, `source` its text. */
export function violations(file: string, source: string): string[] {
  const problems: string[] = [];
  for (const specifier of importsOf(source)) {
    const target: Target = specifier.startsWith(".")
      ? { path: relative(ROOT, resolve(ROOT, dirname(file), specifier)) }
      : { pkg: specifier };
    for (const rule of RULES) {
      const why = rule.applies(file) && rule.refuses(target);
      if (why) problems.push(`${file} imports ${specifier}: ${why}`);
    }
  }
  return problems;
}

/** Every source file under `dirs` with its text (more than `atLeast`, or the check means nothing). */
async function readSources(dirs: string[], atLeast: number) {
  const files: { file: string; text: string }[] = [];
  for (const dir of dirs) {
    for await (const file of sourceFiles(dir)) {
      files.push({ file, text: await Deno.readTextFile(join(ROOT, file)) });
    }
  }
  assert.ok(files.length > atLeast, `read ${files.length} files`);
  return files;
}

Deno.test("lib/ and jobs/ import only downwards", async () => {
  const files = await readSources(["lib", "jobs"], 100);
  assert.deepEqual(files.flatMap(({ file, text }) => violations(file, text)), []);
});

Deno.test("the check finds each kind of upward import", () => {
  const refused = (file: string, line: string) => violations(file, line).length > 0;
  assert.ok(refused("lib/payments/x.ts", 'import { createApp } from "../../routes/_app.tsx";'));
  assert.ok(refused("lib/x.ts", 'import { crons } from "../jobs/mod.ts";'));
  assert.ok(refused("lib/a/b.ts", 'export { default } from "../../islands/Chat.tsx";'));
  assert.ok(refused("lib/x.ts", 'import { webConfig } from "../fresh.config.ts";'));
  assert.ok(refused("lib/x.ts", 'const { start } = await import("../main.ts");'));
  assert.ok(refused("lib/chat/x.ts", 'import {\n  Hono,\n} from "hono";'));
  assert.ok(refused("lib/chat/x.ts", 'import { cors } from "hono/cors";'));
  assert.ok(refused("jobs/x.ts", 'import type { AppContext } from "../routes/_context.ts";'));
  assert.ok(
    refused("lib/sandbox.ts", 'import { startFakePaynow } from "../tests/fakes/paynow.ts";'),
  );
  assert.ok(!refused("lib/x_test.ts", 'import { withDatabase } from "../tests/harness.ts";'));
  assert.ok(refused("lib/http/x.ts", 'import type { Context } from "hono";'));
  // What is allowed: lib/ within itself, npm packages, jobs/ to lib/.
  assert.ok(!refused("lib/x.ts", 'import { jobType } from "./jobs/types.ts";'));
  assert.ok(!refused("lib/x.ts", 'import { z } from "zod";'));
  assert.ok(!refused("lib/x.ts", 'import { Chart } from "chart.js";'));
  assert.ok(!refused("jobs/x.ts", 'import { pollPayment } from "../lib/payments/poll.ts";'));
  // Words in comments are not imports.
  assert.ok(!refused("lib/x.ts", ' * its handlers live in jobs/ (import from "../jobs/mod.ts")'));
});

Deno.test("no module in lib/ or routes/ is over 500 lines (split it by what it does)", async () => {
  const files = await readSources(["lib", "routes"], 200);
  const long = files
    .map(({ file, text }) => ({ file, lines: text.split("\n").length - 1 }))
    .filter(({ lines }) => lines > 500)
    .map(({ file, lines }) => `${file}: ${lines} lines`);
  assert.deepEqual(long, []);
});
