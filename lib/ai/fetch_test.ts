import assert from "node:assert/strict";
import { READ_BUFFER_BYTES, smallReadFetch, smallReads } from "./fetch.ts";

Deno.test("smallReads: the body arrives whole, in reads of at most the buffer size", async () => {
  const payload = new Uint8Array(100_000).map((_, i) => i % 251);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(payload),
  );
  try {
    const res = await smallReadFetch(`http://127.0.0.1:${server.addr.port}/`);
    assert.equal(res.status, 200);
    assert.match(res.url, /^http:\/\/127\.0\.0\.1:/);
    const chunks: Uint8Array[] = [];
    for await (const chunk of res.body!) chunks.push(chunk);
    assert.ok(chunks.every((c) => c.byteLength <= READ_BUFFER_BYTES));
    const joined = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
    let at = 0;
    for (const c of chunks) (joined.set(c, at), at += c.byteLength);
    assert.deepEqual(joined, payload);
  } finally {
    await server.shutdown();
  }
});

Deno.test("smallReads: cancelling the wrapper cancels the source; a non-byte stream is kept", async () => {
  let cancelled: unknown;
  const source = new ReadableStream<Uint8Array>({
    type: "bytes",
    pull(controller) {
      controller.enqueue(new Uint8Array([1, 2, 3]));
    },
    cancel(reason) {
      cancelled = reason;
    },
  });
  const reader = smallReads(source).getReader();
  assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2, 3]));
  await reader.cancel("gone");
  assert.equal(cancelled, "gone");
  const plain = new ReadableStream<Uint8Array>();
  assert.equal(smallReads(plain), plain);
});

Deno.test("smallReadFetch: a response without a body is passed through", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(null, { status: 204 }),
  );
  try {
    const res = await smallReadFetch(`http://127.0.0.1:${server.addr.port}/`);
    assert.equal(res.status, 204);
    assert.equal(res.body, null);
  } finally {
    await server.shutdown();
  }
});
