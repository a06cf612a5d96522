import assert from "node:assert/strict";
import { sha256Hex } from "./tokens.ts";

Deno.test("sha256Hex is SHA-256 of the UTF-8 text, in lowercase hex", async () => {
  // FIPS 180-2 test vectors, and a text beyond ASCII (as WebCrypto hashes its UTF-8).
  assert.equal(
    await sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    await sha256Hex(""),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  const text = "hk_é漢字🙂";
  const expected = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  assert.equal(await sha256Hex(text), expected);
});
