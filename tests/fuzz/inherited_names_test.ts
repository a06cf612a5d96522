/**
 * Names every object inherits (`constructor`, `__proto__`, `toString`, ...) in each GET route's
 * path parameters and in the query, for anonymous visitors and a signed-in admin: a table looked
 * up by such a name must find nothing, so every answer is below 500. The routes come from the
 * app itself, so a new one is covered without being listed here.
 */
import assert from "node:assert/strict";
import { sourceFiles } from "../imports.ts";
import { createUser } from "../../lib/accounts/users.ts";
import { startTestApp } from "../harness.ts";
import { signedIn } from "../fixtures/forms.ts";

const INHERITED = ["constructor", "__proto__", "toString", "valueOf", "hasOwnProperty"];

/** Every query parameter a page reads by name (`c.req.query("…")` in routes/). */
async function queryNames(): Promise<string[]> {
  const names = new Set<string>();
  for await (const file of sourceFiles("routes")) {
    const source = await Deno.readTextFile(new URL(`../../${file}`, import.meta.url));
    for (const m of source.matchAll(/c\.req\.query\("([A-Za-z_]+)"\)/g)) names.add(m[1]);
  }
  return [...names];
}

Deno.test("fuzz: names an object inherits, in every GET route's path and query, answer below 500", async () => {
  await using app = await startTestApp();
  const admin = await createUser(app.server.db.sql, {
    email: "inherited-admin@example.com",
    password: "a long admin passphrase",
    role: "admin",
  });
  const { cookie } = await signedIn(app, admin.id, true);
  const paths = new Set<string>();
  for (const route of app.server.app.routes) {
    if (route.method !== "GET" && route.method !== "ALL") continue;
    if (route.path.includes("*") || route.path.includes("{")) continue;
    for (const name of INHERITED) paths.add(route.path.replace(/:[A-Za-z_]+/g, name));
  }
  assert.ok(paths.size > 50, `only ${paths.size} paths`);
  const keys = await queryNames();
  assert.ok(keys.includes("notice") && keys.length > 10, `query names: ${keys}`);
  // One inherited name for every parameter at a time (a page reads the first of repeated ones).
  const queries = INHERITED.map((name) => keys.map((key) => `${key}=${name}`).join("&"));
  const failures: string[] = [];
  for (const path of paths) {
    for (const query of queries) {
      for (const headers of [{}, { cookie }] as Record<string, string>[]) {
        const res = await app.fetch(`${path}?${query}`, { headers, redirect: "manual" });
        await res.body?.cancel();
        const who = "cookie" in headers ? " (admin)" : "";
        if (res.status >= 500) failures.push(`${res.status} ${path}?${query.slice(0, 40)}${who}`);
      }
    }
  }
  assert.deepEqual(failures, []);
});
