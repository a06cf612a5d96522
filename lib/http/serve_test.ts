import assert from "node:assert/strict";
import { Hono } from "hono";
import { getConnInfo } from "@hono/node-server/conninfo";
import { bodyLimit } from "./body_limit.ts";
import { KEEP_ALIVE_MS, serveHttp } from "./serve.ts";

/** A Hono app on the real listener; `seen` records what the handlers received. */
async function withServer(
  build: (app: Hono) => void,
  fn: (url: string) => Promise<void>,
): Promise<void> {
  const app = new Hono();
  build(app);
  const server = await serveHttp({ hostname: "127.0.0.1", port: 0 }, app.fetch);
  try {
    await fn(`http://127.0.0.1:${server.port}`);
  } finally {
    await server.shutdown();
  }
  await server.finished;
}

/** A request body sent in chunks (no content-length). */
function chunked(...parts: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return ReadableStream.from(parts.map((part) => encoder.encode(part)));
}

Deno.test("bodyLimit: a declared length over the limit, or chunks adding up over it, get the error; others reach the route whole", async () => {
  const bodies: string[] = [];
  await withServer((app) => {
    app.use(bodyLimit(10, (c) => c.text("too large", 413)));
    app.post("/", async (c) => {
      bodies.push(await c.req.text());
      return c.text("ok");
    });
    app.delete("/", (c) => c.text(`deleted, body ${c.req.raw.body === null ? "none" : "sent"}`));
  }, async (url) => {
    const declared = await fetch(url, { method: "POST", body: "x".repeat(11) });
    assert.equal(declared.status, 413);
    await declared.body?.cancel();
    const overInChunks = await fetch(url, { method: "POST", body: chunked("123456", "789012") });
    assert.equal(overInChunks.status, 413);
    await overInChunks.body?.cancel();
    assert.deepEqual(bodies, [], "no route saw a body over the limit");

    const fits = await fetch(url, { method: "POST", body: chunked("12345", "67890") });
    assert.equal(await fits.text(), "ok");
    const declaredFits = await fetch(url, { method: "POST", body: "abc" });
    assert.equal(await declaredFits.text(), "ok");
    assert.deepEqual(bodies, ["1234567890", "abc"]);

    const deleted = await fetch(url, { method: "DELETE" });
    assert.equal(deleted.status, 200);
    assert.match(await deleted.text(), /^deleted/);
  });
});

Deno.test("serveHttp: a client that leaves before its answer aborts the request's signal", async () => {
  let aborted!: () => void;
  const sawAbort = new Promise<void>((resolve) => (aborted = resolve));
  let arrived!: () => void;
  const sawRequest = new Promise<void>((resolve) => (arrived = resolve));
  await withServer((app) => {
    app.post("/slow", async (c) => {
      c.req.raw.signal.addEventListener("abort", () => aborted(), { once: true });
      arrived();
      await sawAbort;
      return c.text("too late");
    });
  }, async (url) => {
    const leaving = new AbortController();
    // A body of a few KB, like an SDK's request: the kind whose departure must still be seen.
    const request = fetch(`${url}/slow`, {
      method: "POST",
      body: JSON.stringify({ text: "x".repeat(4_000) }),
      signal: leaving.signal,
    }).catch(() => "left");
    await sawRequest;
    leaving.abort();
    assert.equal(await request, "left");
    const timeout = new Promise((_, reject) =>
      setTimeout(() => reject(new Error("the request's signal never aborted")), 5_000)
    );
    await Promise.race([sawAbort, timeout]);
  });
});

Deno.test("serveHttp: the client's address is known to routes; shutdown waits for answers in flight", async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const app = new Hono();
  app.get("/ip", (c) => c.text(getConnInfo(c).remote.address ?? "unknown"));
  app.get("/held", async (c) => {
    await held;
    return c.text("finished");
  });
  const server = await serveHttp({ hostname: "127.0.0.1", port: 0 }, app.fetch);
  const url = `http://127.0.0.1:${server.port}`;
  assert.equal(await (await fetch(`${url}/ip`)).text(), "127.0.0.1");
  const inFlight = fetch(`${url}/held`).then((res) => res.text());
  await new Promise((resolve) => setTimeout(resolve, 50));
  let stopped = false;
  const stopping = server.shutdown().then(() => (stopped = true));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(stopped, false, "shutdown waits for the answer in flight");
  release();
  assert.equal(await inFlight, "finished");
  await stopping;
  await server.finished;
});

Deno.test("serveHttp: an idle keep-alive connection outlives Node's 5 s default; shutdown closes it at once", async () => {
  const app = new Hono();
  app.get("/", (c) => c.text("ok"));
  const server = await serveHttp({ hostname: "127.0.0.1", port: 0 }, app.fetch);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    assert.ok(KEEP_ALIVE_MS > 60_000, "longer than the proxies' idle timeout");
    const ask = async () => {
      await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nhost: test\r\n\r\n"));
      const buf = new Uint8Array(1024);
      const n = await conn.read(buf);
      return new TextDecoder().decode(buf.subarray(0, n ?? 0));
    };
    assert.match(await ask(), /^HTTP\/1\.1 200/);
    await new Promise((resolve) => setTimeout(resolve, 6_500));
    assert.match(await ask(), /^HTTP\/1\.1 200/, "the same connection still answers");
    const started = performance.now();
    await server.shutdown();
    assert.ok(performance.now() - started < 2_000, "shutdown does not wait for idle connections");
  } finally {
    conn.close();
  }
});

/** One raw HTTP exchange on a fresh connection: what the server wrote until it closed. */
async function rawExchange(port: number, request: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request));
    let text = "";
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return text;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

Deno.test("serveHttp: an event stream's head and first event are written before the loop moves on", async () => {
  const order: string[] = [];
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const app = new Hono<{ Bindings: { outgoing: { write: (...args: unknown[]) => boolean } } }>();
  app.get("/events", (c) => {
    const outgoing = c.env.outgoing;
    const write = outgoing.write.bind(outgoing);
    outgoing.write = (...args: unknown[]) => {
      order.push("written");
      return write(...args);
    };
    // Queued before the response is returned: it runs at the loop's next turn.
    setTimeout(() => order.push("next turn"), 0);
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (!sent) {
          sent = true;
          return controller.enqueue(new TextEncoder().encode("event: start\ndata: {}\n\n"));
        }
        await finished;
        controller.close();
      },
    }, { highWaterMark: 0 });
    return c.body(body, 200, { "Content-Type": "text/event-stream" });
  });
  const server = await serveHttp({ hostname: "127.0.0.1", port: 0 }, app.fetch);
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/events`);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    try {
      assert.match((await reader.read()).value ?? "", /event: start/);
      assert.equal(order[0], "written", `the first event waited for the loop: ${order.join(", ")}`);
    } finally {
      finish();
      while (!(await reader.read()).done);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp: an event stream to an HTTP/1.0 client is not chunked; one passed through from fetch is served; headers arrive whole", async () => {
  const app = new Hono();
  app.get(
    "/events",
    (c) =>
      c.body(ReadableStream.from([new TextEncoder().encode("data: one\n\n")]), 200, {
        "Content-Type": "text/event-stream",
      }),
  );
  // An upstream whose event stream is passed through as `fetch` returned it.
  const upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("data: relayed\n\n", { headers: { "content-type": "text/event-stream" } }),
  );
  app.get("/cookies", (c) => {
    c.header("Set-Cookie", "a=1; Path=/", { append: true });
    c.header("Set-Cookie", "b=2; Path=/", { append: true });
    for (let i = 0; i < 20; i++) c.header(`X-Extra-${i}`, String(i));
    return c.text("ok");
  });
  const server = await serveHttp({ hostname: "127.0.0.1", port: 0 }, app.fetch);
  try {
    const old = await rawExchange(server.port, "GET /events HTTP/1.0\r\nHost: test\r\n\r\n");
    assert.match(old, /^HTTP\/1\.1 200/);
    assert.doesNotMatch(old, /transfer-encoding/i);
    assert.match(old, /\r\n\r\ndata: one\n\n$/, "the body as it was, ended by the close");

    const current = await rawExchange(
      server.port,
      "GET /events HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    );
    assert.match(current, /transfer-encoding: chunked/i);
    assert.match(current, /data: one\n\n\r\n0\r\n\r\n$/, "chunked, then the last chunk");

    // Served as `fetch` returned it (no Hono in between to copy it).
    const proxy = await serveHttp(
      { hostname: "127.0.0.1", port: 0 },
      () => fetch(`http://127.0.0.1:${upstream.addr.port}/`),
    );
    try {
      const relayed = await fetch(`http://127.0.0.1:${proxy.port}/`);
      assert.equal(relayed.status, 200);
      assert.equal(await relayed.text(), "data: relayed\n\n");
    } finally {
      await proxy.shutdown();
    }

    const res = await fetch(`http://127.0.0.1:${server.port}/cookies`);
    assert.deepEqual(res.headers.getSetCookie(), ["a=1; Path=/", "b=2; Path=/"]);
    for (let i = 0; i < 20; i++) assert.equal(res.headers.get(`x-extra-${i}`), String(i));
    assert.equal(await res.text(), "ok");
  } finally {
    await server.shutdown();
    await upstream.shutdown();
  }
});
