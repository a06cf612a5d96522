/** Every variable the configuration reads is named in `.env.example` and in the README. */
import assert from "node:assert/strict";
import { ENV_VARIABLES } from "./config.ts";

const read = (path: string) => Deno.readTextFile(new URL(`../${path}`, import.meta.url));

Deno.test("every configuration variable is listed in .env.example and the README", async () => {
  const [example, readme] = await Promise.all([read(".env.example"), read("README.md")]);
  assert.ok(ENV_VARIABLES.length > 40);
  assert.deepEqual(ENV_VARIABLES.filter((name) => !example.includes(name)), [], ".env.example");
  assert.deepEqual(ENV_VARIABLES.filter((name) => !readme.includes(`\`${name}\``)), [], "README");
});
