/**
 * How query parameters become text, for every pool of lib/db/mod.ts: nothing here may throw.
 *
 * postgres.js 3.4.9 turns a query's parameters into text while it writes the query to a connection
 * that may already have other queries in flight. If that throws, it fails the query in flight
 * instead and leaves the failed one queued without writing it; every later answer on the
 * connection then goes to the query before its own, so one caller gets another's rows
 * (docs/postgres-js-parameters.md). So a value the driver could not serialize is sent as text the
 * server refuses, and the server fails that query alone:
 *
 * - `undefined` is sent as NULL, as node-postgres does (the driver's types refuse it at compile
 *   time; it only gets here through a cast), also in `sql.json` ({@link withJsonUndefinedAsNull});
 * - a Date, or a date given as text or a number, that holds no time is sent as `Invalid Date`:
 *   `invalid input syntax for type timestamp with time zone: "Invalid Date"`;
 * - a value JSON cannot hold (a BigInt, a cycle) is sent as an unterminated JSON string naming
 *   why: `invalid input syntax for type json`, the reason in the error's `detail`.
 */
import type postgres from "postgres";

const INVALID_DATE = "Invalid Date";

function serializeDate(value: unknown): string {
  try {
    return (value instanceof Date ? value : new Date(value as string)).toISOString();
  } catch {
    return INVALID_DATE;
  }
}

/** JSON text no JSON parser accepts: a string never closed (no quote or backslash inside). */
const notJson = (why: string) =>
  `"not serializable to JSON: ${why.replace(/["\\\p{Cc}]+/gu, " ").trim()}`;

function serializeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? notJson(`${typeof value} has no JSON form`);
  } catch (error) {
    return notJson(error instanceof Error ? error.message : "its conversion failed");
  }
}

/**
 * postgres.js options: the driver's own date and JSON types, with serializers that never throw.
 * Declared as the driver's general list of types so that the pools keep their plain `Sql` type:
 * these replace the driver's own and add no parameter type.
 */
export const PARAMETERS: Pick<
  postgres.Options<Record<string, postgres.PostgresType>>,
  "transform" | "types"
> = {
  transform: { undefined: null },
  types: {
    date: {
      to: 1184,
      from: [1082, 1114, 1184],
      serialize: serializeDate,
      parse: (text: string) => new Date(text),
    },
    json: {
      to: 114,
      from: [114, 3802],
      serialize: serializeJson,
      parse: (text: string) => JSON.parse(text),
    },
  },
};

/**
 * `sql.json(undefined)` throws as its query is written whatever `transform` says (the driver tests
 * the value it had before the transform): NULL instead, as for any undefined. A transaction's
 * `json` is its pool's (lib/db/transaction.ts): a parameter belongs to no connection.
 */
export function withJsonUndefinedAsNull<T extends { json(value: never): unknown }>(sql: T): T {
  const json = sql.json.bind(sql);
  sql.json = (value: never) => json((value ?? null) as never);
  return sql;
}
