/** Sealing personal data, blind indexes and their keys, normalisation. */
import assert from "node:assert/strict";
import {
  createSealer,
  keyIdOf,
  normaliseEmail,
  normalisePhone,
  SecretDecryptError,
} from "./sealing.ts";

const key = (fill: number) => new Uint8Array(32).fill(fill);

Deno.test("phones and e-mails normalise to one form", () => {
  for (
    const raw of [
      "0771234567",
      "+263 77 123 4567",
      "00263771234567",
      "263771234567",
      "(077) 123-4567",
      "whatsapp:+263771234567",
    ]
  ) {
    assert.equal(normalisePhone(raw), "+263771234567", raw);
  }
  assert.equal(normalisePhone("+977 9841234567"), "+9779841234567");
  for (const bad of ["", "12", "abc", "+0771234567", "077123456789012345"]) {
    assert.equal(normalisePhone(bad), null, bad);
  }
  assert.equal(normaliseEmail("  Rudo@Example.ORG "), "rudo@example.org");
  assert.equal(normaliseEmail("not an address"), null);
});

Deno.test("a sealed value opens only in its own context, under a key that is held", async () => {
  const sealer = await createSealer(key(1));
  const sealed = (await sealer.seal("+263771234567", "grievances.phone:a"))!;
  assert.ok(!sealed.includes("263771234567"));
  assert.notEqual(sealed, await sealer.seal("+263771234567", "grievances.phone:a"), "fresh IV");
  assert.equal(await sealer.open(sealed, sealer.keyId, "grievances.phone:a"), "+263771234567");
  await assert.rejects(sealer.open(sealed, sealer.keyId, "grievances.phone:b"), SecretDecryptError);
  await assert.rejects(sealer.open(sealed, "unknown", "grievances.phone:a"), SecretDecryptError);
  assert.equal(await sealer.seal(null, "x"), null);
});

Deno.test("the blind index is keyed, not the encryption key itself, and follows a rotation", async () => {
  const old = await createSealer(key(1));
  const index = await old.index("phone", "+263771234567");
  assert.match(index, /^[0-9a-f]{64}$/);
  assert.equal(index, await old.index("phone", "+263771234567"), "deterministic: exact search");
  assert.notEqual(index, await old.index("email", "+263771234567"), "kinds do not collide");
  // Not HMAC under the raw key: the index key is derived (HKDF) with its own label.
  const raw = await crypto.subtle.importKey(
    "raw",
    key(1),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const naive = Array.from(
    new Uint8Array(
      await crypto.subtle.sign("HMAC", raw, new TextEncoder().encode("phone:+263771234567")),
    ),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  assert.notEqual(index, naive);

  const rotated = await createSealer(key(2), key(1));
  assert.notEqual(rotated.keyId, old.keyId);
  assert.equal(rotated.keyId, await keyIdOf(key(2)));
  assert.deepEqual(await rotated.indexes("phone", "+263771234567"), [
    await rotated.index("phone", "+263771234567"),
    index,
  ]);
  const sealed = (await old.seal("Tendai", "grievances.name:a"))!;
  assert.equal(await rotated.open(sealed, old.keyId, "grievances.name:a"), "Tendai");
  assert.ok(rotated.holds(old.keyId) && !old.holds(rotated.keyId));
});
