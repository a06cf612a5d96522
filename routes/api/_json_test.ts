import assert from "node:assert/strict";
import { z } from "@hono/zod-openapi";
import { dateTime, jsonOf } from "./_json.ts";

const Item = z.object({ id: z.string(), at: dateTime(), doneAt: dateTime().nullable() });

Deno.test("jsonOf: the schema's fields in its order, dates as ISO 8601 text, null kept", () => {
  const at = new Date("2026-01-02T03:04:05.678Z");
  const answer = jsonOf(Item, { doneAt: null, at, id: "a" });
  assert.equal(JSON.stringify(answer), '{"id":"a","at":"2026-01-02T03:04:05.678Z","doneAt":null}');
});

Deno.test("jsonOf: a field the schema does not name stays out of the answer", () => {
  const at = new Date(0);
  const answer = jsonOf(Item, { id: "a", at, doneAt: at, secret: "s3cret", ownerId: "u" });
  assert.deepEqual(Object.keys(answer), ["id", "at", "doneAt"]);
  assert.equal(answer.doneAt, "1970-01-01T00:00:00.000Z");
});
