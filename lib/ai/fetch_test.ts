import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { collectGarbage } from "../../tests/gc.ts";
import { aiFetch, ClientPool, pooledFetch, READ_BUFFER_BYTES, smallReads } from "./fetch.ts";

Deno.test("smallReads: the body arrives whole, in reads of at most the buffer size", async () => {
  const payload = new Uint8Array(100_000).map((_, i) => i % 251);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(payload),
  );
  try {
    const res = await aiFetch(`http://127.0.0.1:${server.addr.port}/`);
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

Deno.test("smallReads: cancelling the wrapper cancels the source; its end is reported once, a non-byte stream's too", async () => {
  let cancelled: unknown;
  let ends = 0;
  const source = new ReadableStream<Uint8Array>({
    type: "bytes",
    pull(controller) {
      controller.enqueue(new Uint8Array([1, 2, 3]));
    },
    cancel(reason) {
      cancelled = reason;
    },
  });
  const reader = smallReads(source, 1024, () => ends++).getReader();
  assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2, 3]));
  assert.equal(ends, 0);
  await reader.cancel("gone");
  assert.equal(cancelled, "gone");
  assert.equal(ends, 1);

  const plain = ReadableStream.from([new Uint8Array([4, 5])]);
  const chunks = await Array.fromAsync(smallReads(plain, 1024, () => ends++));
  assert.deepEqual(chunks, [new Uint8Array([4, 5])]);
  assert.equal(ends, 2);
});

Deno.test("aiFetch: a response without a body is passed through", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(null, { status: 204 }),
  );
  try {
    const res = await aiFetch(`http://127.0.0.1:${server.addr.port}/`);
    assert.equal(res.status, 204);
    assert.equal(res.body, null);
  } finally {
    await server.shutdown();
  }
});

/**
 * An HTTP/2 server (cleartext, prior knowledge) whose every answer sends one chunk and then
 * stays open, like a model thinking. Deno.serve allows 200 streams per connection.
 */
function openAnswers() {
  const open = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () =>
      new Response(
        new ReadableStream({
          start: (c) => {
            open.add(c);
            c.enqueue(new TextEncoder().encode("data: {}\n\n"));
          },
          cancel: () => {},
        }),
        { headers: { "content-type": "text/event-stream" } },
      ),
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    // Answers still open would keep a graceful shutdown waiting for ever: end them first.
    close: () => {
      for (const c of open) {
        try {
          c.close();
        } catch { /* already cancelled */ }
      }
      return server.shutdown();
    },
  };
}

const http2Client = () => Deno.createHttpClient({ http1: false, http2: true });

/**
 * Starts `n` requests; once as many bodies have started as will (`n`, or no new one for
 * `quietMs`, however slow the machine), the readers of those whose first chunk arrived.
 */
async function started(f: typeof fetch, url: string, n: number, quietMs: number) {
  const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
  const settled = Array.from({ length: n }, () =>
    f(url).then(async (res) => {
      const reader = res.body!.getReader();
      await reader.read();
      readers.push(reader);
    }).catch(() => {}));
  let seen = -1;
  let quietSince = performance.now();
  while (readers.length < n && performance.now() - quietSince < quietMs) {
    if (readers.length !== seen) [seen, quietSince] = [readers.length, performance.now()];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { readers, settled: Promise.all(settled) };
}

Deno.test("pooledFetch: 250 answers stream at once from an HTTP/2 server that allows 200 per connection", async () => {
  const upstream = openAnswers();
  const alone = new ClientPool(Infinity, http2Client);
  const pool = new ClientPool(100, http2Client);
  try {
    // The server's cap is real: one client gets 200 under way and the rest wait.
    const one = await started(pooledFetch(alone), upstream.url, 250, 1_000);
    assert.equal(one.readers.length, 200);
    assert.equal(alone.clients, 1);
    for (const reader of one.readers) await reader.cancel();
    await one.settled; // the 50 that waited start once the first ones end
    for (const reader of one.readers.slice(200)) await reader.cancel();

    const spread = await started(pooledFetch(pool), upstream.url, 250, 1_000);
    assert.equal(spread.readers.length, 250, "every answer is under way");
    assert.equal(pool.clients, 3);
    assert.equal(pool.inFlight, 250);
    for (const reader of spread.readers) await reader.cancel();
    assert.equal(pool.inFlight, 0, "a cancelled body gives its client back");

    // A finished body gives it back too, and a failed request.
    const res = await pooledFetch(pool)(upstream.url);
    assert.equal(pool.inFlight, 1);
    await res.body!.cancel();
    await assert.rejects(pooledFetch(pool)("http://127.0.0.1:1/"));
    assert.equal(pool.inFlight, 0);
  } finally {
    alone.close();
    pool.close();
    await upstream.close();
  }
});

/** What `promise` settles to within `ms`, or "still waiting" (the timer is cleared either way). */
async function within(promise: Promise<string>, ms: number): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<string>((resolve) => timer = setTimeout(() => resolve("still waiting"), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("pooledFetch: aborting stops a silent body after the Response object is garbage", async () => {
  // An upstream that sends its head and one event, then thinks (the model before its first token).
  const closed: Promise<void>[] = [];
  const upstream = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write("data: {}\n\n");
    closed.push(new Promise((resolve) => res.on("close", () => resolve())));
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/`;
  const pool = new ClientPool();
  const fetchPooled = pooledFetch(pool);
  const streams = 5;
  try {
    const callers = Array.from({ length: streams }, () => new AbortController());
    // Only the body's reader is kept, as the SDKs keep it; the Response itself becomes garbage.
    const open = async (signal: AbortSignal) => {
      const reader = (await fetchPooled(url, { signal })).body!.getReader();
      await reader.read();
      return { next: reader.read() }; // waits on the silent upstream
    };
    const waiting = await Promise.all(callers.map((c) => open(c.signal)));
    await collectGarbage();
    for (const caller of callers) caller.abort();
    const outcomes = await Promise.all(
      waiting.map(({ next }) => within(next.then(() => "read", (e: Error) => e.name), 2_000)),
    );
    assert.deepEqual(outcomes, Array(streams).fill("AbortError"));
    await Promise.all(closed); // and the upstream saw each connection close
    assert.equal(pool.inFlight, 0);
  } finally {
    pool.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  }
});
