import assert from "node:assert/strict";
import { freshDatabase } from "../../tests/harness.ts";
import type { Sql } from "./mod.ts";

type Outcome = { rows: Record<string, unknown>[] } | { error: Error } | "pending";

/** What became of `query` within `ms`: its rows, its error, or still nothing. */
async function outcome(query: Promise<Record<string, unknown>[]>, ms: number): Promise<Outcome> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"pending">((r) => timer = setTimeout(() => r("pending"), ms));
  try {
    return await Promise.race([
      query.then((rows) => ({ rows: [...rows] }), (error: Error) => ({ error })),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const AT = new Date("2024-05-01T10:00:00.000Z");

/**
 * One query shape for every case, so that a connection which has prepared it binds the next ones
 * in the same write as other queries (values postgres.js cannot serialize then throw there). Text
 * given as `at` goes through the driver's date type too: the server types the parameter.
 */
const probe = (sql: Sql, i: number, at: unknown, doc: unknown) =>
  sql`select ${i}::int as i, ${at as Date}::timestamptz as at,
             ${sql.json(doc as never)}::jsonb as doc`;

const cycle: Record<string, unknown> = {};
cycle.self = cycle;

/**
 * Values postgres.js 3.4.9 throws on while writing a query, and what their query must give: an
 * error of its own, or (undefined, refused by the driver's types at compile time and let through
 * by a cast) rows with NULL.
 */
const ODD: { name: string; at: unknown; doc: unknown; error?: RegExp }[] = [
  { name: "an invalid Date", at: new Date(NaN), doc: {}, error: /timestamp.*"Invalid Date"/ },
  { name: "text that is no date", at: "yesterday-ish", doc: {}, error: /"Invalid Date"/ },
  { name: "a BigInt in JSON", at: AT, doc: { n: 1n }, error: /json.*BigInt/ },
  { name: "a cycle in JSON", at: AT, doc: cycle, error: /json.*circular/ },
  { name: "undefined", at: undefined, doc: {} },
  { name: "undefined JSON", at: AT, doc: undefined },
];

Deno.test("a parameter postgres.js cannot serialize fails its own query only: every other query gets its own rows", async () => {
  const { db, close } = await freshDatabase();
  const { sql } = db;
  try {
    for (let round = 0; round < 3; round++) {
      // Many more queries than connections: each connection has several in flight at once.
      const plan = Array.from(
        { length: 300 },
        (_, i) => i % 10 === 9 ? ODD[(i / 10 | 0) % ODD.length] : null,
      );
      const outcomes = await Promise.all(
        plan.map((odd, i) =>
          outcome(odd ? probe(sql, i, odd.at, odd.doc) : probe(sql, i, AT, { i }), 10_000)
        ),
      );
      const wrong: string[] = [];
      outcomes.forEach((o, i) => {
        const odd = plan[i];
        const what = odd ? `${i} (${odd.name})` : `${i}`;
        if (o === "pending") return wrong.push(`${what}: never settled`);
        if (odd?.error) {
          if ("rows" in o) return wrong.push(`${what}: got rows ${JSON.stringify(o.rows)}`);
          const { message, detail } = o.error as Error & { detail?: string };
          if (!odd.error.test(`${message} ${detail}`)) {
            wrong.push(`${what}: failed with ${message} ${detail}`);
          }
          return;
        }
        if ("error" in o) return wrong.push(`${what}: failed with ${o.error.message}`);
        const expected = odd
          ? { i, at: odd.at ?? null, doc: odd.doc ?? null }
          : { i, at: AT, doc: { i } };
        try {
          assert.deepEqual(o.rows, [expected]);
        } catch {
          wrong.push(`${what}: got ${JSON.stringify(o.rows)}`);
        }
      });
      assert.equal(
        wrong.length,
        0,
        `round ${round}, ${wrong.length} wrong:\n${wrong.slice(0, 12).join("\n")}`,
      );
    }
  } finally {
    await close();
  }
});

Deno.test("in a transaction too, undefined JSON is NULL", async () => {
  const { db, close } = await freshDatabase();
  try {
    const rows = await db.sql.begin((tx) =>
      tx`select ${tx.json(undefined as never)}::jsonb as doc`
    );
    assert.deepEqual([...rows], [{ doc: null }]);
  } finally {
    await close();
  }
});
