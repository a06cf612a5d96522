/**
 * The lean request path: static files from memory (validators, 304s, content types, compressed
 * copies), the 404 page rendered once per heading, and the shared headers on all of them.
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { ROOT, startTestApp, type TestApp } from "./harness.ts";

const CSS = "/static/app.css";

/** The headers every answer carries, whatever answered it. */
function assertSharedHeaders(res: Response): void {
  assert.match(res.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'self'/);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.equal(res.headers.get("x-frame-options"), "SAMEORIGIN");
}

/**
 * GET through node:http, which (unlike fetch) neither asks for nor undoes a compression: the
 * bytes and headers as sent. `accept-encoding` is sent only when given.
 */
function get(app: TestApp, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ res: Response; body: Uint8Array }>((resolve, reject) => {
    const req = request(new URL(path, app.url), { headers }, (incoming) => {
      const chunks: Uint8Array[] = [];
      incoming.on("data", (chunk: Uint8Array) => chunks.push(chunk));
      incoming.on("error", reject);
      incoming.on("end", () => {
        const out = new Headers();
        for (const [name, value] of Object.entries(incoming.headers)) {
          if (typeof value === "string") out.set(name, value);
        }
        const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
        chunks.reduce((at, c) => (body.set(c, at), at + c.length), 0);
        resolve({ res: new Response(null, { status: incoming.statusCode, headers: out }), body });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

Deno.test("a static file: its bytes, type and validators; a revalidation is a bare 304", async () => {
  const app = await startTestApp();
  try {
    const { res, body } = await get(app, CSS);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/css; charset=utf-8");
    assert.deepEqual(body, await Deno.readFile(`${ROOT}static/app.css`));
    assert.equal(res.headers.get("cache-control"), "no-cache");
    assert.equal(res.headers.get("content-encoding"), null);
    const etag = res.headers.get("etag") ?? "";
    assert.match(etag, /^"[\w-]{22}"$/);
    const mtime = (await Deno.stat(`${ROOT}static/app.css`)).mtime!;
    assert.equal(res.headers.get("last-modified"), mtime.toUTCString());
    assertSharedHeaders(res);

    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const again = await get(app, CSS, { "if-none-match": ifNoneMatch });
      assert.equal(again.res.status, 304, ifNoneMatch);
      assert.equal(again.body.length, 0);
      assert.equal(again.res.headers.get("etag"), etag);
      assert.equal(again.res.headers.get("cache-control"), "no-cache");
      assertSharedHeaders(again.res);
    }
    const changed = await get(app, CSS, { "if-none-match": '"another-version"' });
    assert.equal(changed.res.status, 200);
    assert.equal(changed.body.length, body.length);

    const since = await get(app, CSS, { "if-modified-since": mtime.toUTCString() });
    assert.equal(since.res.status, 304);
    const before = new Date(mtime.getTime() - 60_000).toUTCString();
    assert.equal((await get(app, CSS, { "if-modified-since": before })).res.status, 200);
    // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
    const both = await get(app, CSS, {
      "if-none-match": '"another-version"',
      "if-modified-since": mtime.toUTCString(),
    });
    assert.equal(both.res.status, 200);
  } finally {
    await app.close();
  }
});

Deno.test("static files: content types by extension, compressed copies by Accept-Encoding", async () => {
  const app = await startTestApp();
  try {
    const js = await get(app, "/static/embed.js");
    assert.equal(js.res.status, 200);
    assert.equal(js.res.headers.get("content-type"), "text/javascript; charset=utf-8");

    const plain = await get(app, CSS);
    const gzip = await get(app, CSS, { "accept-encoding": "gzip" });
    assert.equal(gzip.res.headers.get("content-encoding"), "gzip");
    assert.equal(gzip.res.headers.get("vary"), "Accept-Encoding");
    assert.ok(gzip.body.length < plain.body.length * 0.9);
    assert.deepEqual(new Uint8Array(gunzipSync(gzip.body)), plain.body);
    const gzipTag = gzip.res.headers.get("etag");
    assert.notEqual(gzipTag, plain.res.headers.get("etag"));
    assert.equal(
      (await get(app, CSS, { "accept-encoding": "gzip", "if-none-match": gzipTag! })).res.status,
      304,
    );

    const br = await get(app, CSS, { "accept-encoding": "gzip, deflate, br" });
    assert.equal(br.res.headers.get("content-encoding"), "br");
    assert.deepEqual(new Uint8Array(brotliDecompressSync(br.body)), plain.body);
    const refused = await get(app, CSS, { "accept-encoding": "br;q=0, gzip;q=0" });
    assert.equal(refused.res.headers.get("content-encoding"), null);
    assert.equal(refused.body.length, plain.body.length);

    // Too small to be worth a compressed copy.
    const tiny = await get(app, "/static/api-docs.js", { "accept-encoding": "br, gzip" });
    assert.equal(tiny.res.headers.get("content-encoding"), null);
    assert.equal(tiny.res.headers.get("vary"), null);
  } finally {
    await app.close();
  }
});

Deno.test("static: HEAD has the headers only; other methods, directories and escapes are 404s", async () => {
  const app = await startTestApp();
  try {
    const head = await app.fetch(CSS, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-type"), "text/css; charset=utf-8");
    assert.equal((await head.arrayBuffer()).byteLength, 0);

    const post = await app.fetch(CSS, { method: "POST", body: "x" });
    await post.body?.cancel();
    assert.notEqual(post.status, 200);
    for (
      const path of ["/static/", "/static/build", "/static/missing.css", "/static/..%2Fdeno.json"]
    ) {
      const res = await app.fetch(path);
      await res.body?.cancel();
      assert.equal(res.status, 404, path);
    }
  } finally {
    await app.close();
  }
});

Deno.test("the 404 page: status, the escaped path in its text, the layout and the shared headers", async () => {
  const app = await startTestApp();
  try {
    const shown: Record<string, string> = {
      "/nothing-here": "/nothing-here",
      "/a<b>&c%22d": "/a&lt;b&gt;&amp;c&quot;d",
    };
    for (const path of ["/nothing-here", "/a<b>&c%22d", "/nothing-here"]) {
      const { res, body } = await get(app, path);
      assert.equal(res.status, 404);
      assert.equal(res.headers.get("content-type"), "text/html; charset=UTF-8");
      assertSharedHeaders(res);
      const html = new TextDecoder().decode(body);
      assert.match(html, /^<!doctype html><html lang="en">/);
      assert.match(html, /<title>Not found · Hurukuro<\/title>/);
      assert.match(html, /<h1>Page not found<\/h1>/);
      assert.match(html, /<link rel="stylesheet" href="\/static\/app.css"\/>/);
      assert.ok(html.includes(`<p>Nothing is served at ${shown[path]}.</p>`), html);
      assert.ok(!html.includes("<b>"));
    }
  } finally {
    await app.close();
  }
});
