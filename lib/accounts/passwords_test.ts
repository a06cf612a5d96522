import assert from "node:assert/strict";
import { hashPassword, verifyPassword } from "./passwords.ts";

Deno.test("an empty password is a wrong password, for a known account and an unknown one", async () => {
  const hash = await hashPassword("correct horse battery");
  assert.equal(await verifyPassword("", hash), false);
  assert.equal(await verifyPassword("", null), false);
  assert.equal(await verifyPassword("correct horse battery", hash), true);
  assert.equal(await verifyPassword("correct horse batterY", hash), false);
});
