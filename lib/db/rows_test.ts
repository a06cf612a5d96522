import assert from "node:assert/strict";
import { allFieldsOf, type ColumnsOf, fieldsOf } from "./rows.ts";

interface Entry {
  id: string;
  receivedAt: Date;
  bodyBytes: number;
  pricePer1k: string;
}

const at = new Date(0);
const row: ColumnsOf<Entry> & { secret_encrypted: string } = {
  id: "e1",
  received_at: at,
  body_bytes: 12,
  price_per_1k: "0.5",
  secret_encrypted: "sealed",
};

Deno.test("fieldsOf: the named columns under their fields' names, and nothing else", () => {
  assert.deepEqual(fieldsOf(row, ["id", "received_at", "body_bytes"]), {
    id: "e1",
    receivedAt: at,
    bodyBytes: 12,
  });
  assert.deepEqual(fieldsOf(row, ["price_per_1k"]), { pricePer1k: "0.5" });
});

Deno.test("allFieldsOf: every column of the row as a field", () => {
  const { secret_encrypted: _, ...columns } = row;
  const entry: Entry = allFieldsOf(columns);
  assert.deepEqual(entry, { id: "e1", receivedAt: at, bodyBytes: 12, pricePer1k: "0.5" });
});

Deno.test("fieldsOf: a field left out is a type error where the domain object is built", () => {
  // @ts-expect-error `receivedAt`, `bodyBytes` and `pricePer1k` are missing.
  const entry: Entry = fieldsOf(row, ["id"]);
  assert.deepEqual(entry, { id: "e1" });
});
