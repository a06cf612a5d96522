import assert from "node:assert/strict";
import { AppError } from "../errors.ts";
import { allowedUrl } from "./urls.ts";

Deno.test("allowedUrl: an address the guard refuses is `unprocessable`, naming the field and why", async () => {
  const error = await allowedUrl("https://10.0.0.9/hook", {}, "receive webhooks").then(
    () => assert.fail("a private address was allowed"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof AppError);
  assert.equal(error.code, "unprocessable");
  assert.match(error.message, /^url: this address cannot receive webhooks: .*private.*\.$/);
  assert.equal(error.details?.field, "url");
  assert.match(String(error.details?.reason), /private/);
});

Deno.test("allowedUrl: an address the guard lets through comes back parsed", async () => {
  const url = await allowedUrl("https://shop.example/hook", {
    resolve: () => Promise.resolve(["93.184.215.14"]),
  }, "receive webhooks");
  assert.equal(url.href, "https://shop.example/hook");
});
