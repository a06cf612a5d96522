/**
 * A client that goes away mid-request is routine on mobile networks: it is logged at `info`
 * without a stack, never as an error, and the server carries on.
 */
import assert from "node:assert/strict";
import { startTestApp } from "./harness.ts";

/** Sends the headers and part of a body, then resets the connection. */
async function abandonRequest(url: string, path: string): Promise<void> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const head = `POST ${path} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
    `Content-Length: 100000\r\n\r\n{"object":`;
  await conn.write(new TextEncoder().encode(head));
  await new Promise((r) => setTimeout(r, 200));
  conn.close();
}

Deno.test("a client that disconnects mid-body is logged at info without a stack", async () => {
  await using app = await startTestApp();
  for (const path of ["/api/whatsapp/webhook", "/api/v1/auth/login", "/login"]) {
    await abandonRequest(app.url, path);
  }
  const entries = () => app.logs.map((l) => JSON.parse(l));
  // The server notices the reset when it next reads: wait for all three requests to end.
  for (let i = 0; i < 100 && entries().filter((e) => e.msg === "request").length < 3; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const logged = entries();
  assert.equal(logged.filter((e) => e.msg === "request").length, 3);
  assert.deepEqual(logged.filter((e) => e.level === "error"), []);
  assert.ok(!app.logs.some((l) => l.includes('"stack"')), "no stack for a client gone");
  const gone = logged.filter((e) => e.msg === "client disconnected");
  assert.ok(gone.length >= 1, "the webhook's abandoned body is named as a disconnect");
  for (const entry of gone) assert.equal(entry.level, "info");
  // Still serving.
  assert.equal((await app.fetch("/health")).status, 200);
});
