/**
 * The default sink writes standard output a few milliseconds after a line, many lines at once: each line still
 * reaches it, in order, whatever ends the process.
 */
import assert from "node:assert/strict";
import { denoEval } from "../../tests/deno_eval.ts";

const LOG = new URL("./log.ts", import.meta.url).href;

/** Runs `body` (after `log` is created at info) in a child process; its stdout lines. */
async function run(body: string): Promise<{ lines: string[]; code: number }> {
  const script = `import { createLogger } from ${JSON.stringify(LOG)};
const log = createLogger({ level: "info" });
${body}`;
  const out = await denoEval(script);
  return { lines: out.stdout.split("\n").filter(Boolean), code: out.code };
}

const messages = (lines: string[]) =>
  lines.map((l) => {
    try {
      return JSON.parse(l).msg;
    } catch {
      return l;
    }
  });

Deno.test("lines logged just before the process ends are written, in order", async () => {
  const ended = await run(`for (let i = 0; i < 3; i++) log.info("line " + i);`);
  assert.deepEqual(messages(ended.lines), ["line 0", "line 1", "line 2"]);

  const exited = await run(`log.info("before exit"); Deno.exit(3);`);
  assert.equal(exited.code, 3);
  assert.deepEqual(messages(exited.lines), ["before exit"]);

  const crashed = await run(`log.info("before the crash"); throw new Error("boom");`);
  assert.notEqual(crashed.code, 0);
  assert.deepEqual(messages(crashed.lines), ["before the crash"]);
});

Deno.test("a warning is written at once, after the lines before it; a burst arrives whole and in order", async () => {
  // The marker is printed by console.log, unbuffered: the warning must already be out by then,
  // and the info line before it too; the info line after it is still waiting.
  const { lines } = await run(
    `log.info("first"); log.warn("careful"); console.log("MARK"); log.info("after");`,
  );
  assert.deepEqual(messages(lines), ["first", "careful", "MARK", "after"]);

  const burst = await run(`for (let i = 0; i < 5000; i++) log.info("n", { i });`);
  assert.equal(burst.lines.length, 5000);
  assert.deepEqual(burst.lines.map((l) => JSON.parse(l).i), [...Array(5000).keys()]);
});

Deno.test("info lines wait a few milliseconds: a console line printed meanwhile comes first", async () => {
  const { lines } = await run(`log.info("buffered"); console.log("MARK");`);
  assert.deepEqual(messages(lines), ["MARK", "buffered"]);
});
