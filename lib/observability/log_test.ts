import assert from "node:assert/strict";
import { memoryLogger } from "./log.ts";

Deno.test("log lines are JSON with level, message and merged child fields", () => {
  const log = memoryLogger("info");
  log.child({ requestId: "r1" }).info("hello", { status: 200 });
  log.debug("hidden below the threshold");
  assert.equal(log.lines.length, 1);
  const line = JSON.parse(log.lines[0]);
  assert.equal(line.level, "info");
  assert.equal(line.msg, "hello");
  assert.equal(line.requestId, "r1");
  assert.equal(line.status, 200);
});

Deno.test("no log line carries a raw phone number or e-mail, wherever it appears", () => {
  const log = memoryLogger();
  log.child({ user: "tendai@example.com" }).warn("payment from +263771234567 failed", {
    error: new Error("0771234567 has no wallet"),
    nested: { to: ["whatsapp:+263712345678"] },
  });
  const text = log.lines.join("\n");
  for (const raw of ["tendai@example.com", "771234567", "712345678"]) {
    assert.ok(!text.includes(raw), `${raw} leaked: ${text}`);
  }
});

Deno.test("a sink that throws (stdout closed under us) never breaks the caller", async () => {
  const { createLogger } = await import("./log.ts");
  const log = createLogger({
    sink: () => {
      throw new Deno.errors.BrokenPipe("stdout closed");
    },
  });
  log.info("still fine");
  log.error("still fine", { error: new Error("x") });
});
