/** Small query pieces the admin modules share. */
import type { Sql } from "../db/mod.ts";

/** One page of a table: `limit` rows from `offset`. */
export interface Page {
  limit: number;
  offset: number;
}

type Fragment = ReturnType<Sql>;

/** `where a and b …` from the conditions given (nulls skipped); empty when there are none. */
export function whereAll(sql: Sql, conditions: (Fragment | null)[]): Fragment {
  const given = conditions.filter((c): c is Fragment => c !== null);
  if (given.length === 0) return sql``;
  return given.slice(1).reduce((acc, cond) => sql`${acc} and ${cond}`, sql`where ${given[0]}`);
}

/** `%` and `_` match literally in an ILIKE pattern built from user input. */
export const likePattern = (q: string) => `%${q.replace(/[\\%_]/g, (m) => "\\" + m)}%`;
