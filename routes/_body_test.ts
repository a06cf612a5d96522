import assert from "node:assert/strict";
import { readBodyWithin } from "./_body.ts";

const post = (body: BodyInit, headers: Record<string, string> = {}) =>
  new Request("http://x/", { method: "POST", body, headers });

Deno.test("readBodyWithin: the bytes as sent, up to the limit", async () => {
  const bytes = await readBodyWithin(post("hello"), 5);
  assert.equal(new TextDecoder().decode(bytes!), "hello");
  assert.deepEqual(await readBodyWithin(new Request("http://x/"), 5), new Uint8Array());
});

Deno.test("readBodyWithin: null past the limit, whatever Content-Length claims", async () => {
  assert.equal(await readBodyWithin(post("hello!"), 5), null);
  assert.equal(await readBodyWithin(post("hi", { "content-length": "999" }), 5), null);
  // A stream in several chunks whose total passes the limit.
  const chunks = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new Uint8Array(3));
      c.enqueue(new Uint8Array(3));
      c.close();
    },
  });
  assert.equal(await readBodyWithin(post(chunks), 5), null);
  const joined = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new Uint8Array([1, 2]));
      c.enqueue(new Uint8Array([3]));
      c.close();
    },
  });
  assert.deepEqual(await readBodyWithin(post(joined), 5), new Uint8Array([1, 2, 3]));
});
