/**
 * Whether the AI upstream answers again: an answer completed since a moment. What the
 * notifications' "AI upstream recovered" check asks while answers are failing.
 */
import type { Sql } from "../db/mod.ts";

export async function answeredSince(sql: Sql, since: Date): Promise<boolean> {
  const [row] = await sql`select 1 as ok from messages
                          where created_at > ${since} and role = 'assistant'
                            and status = 'complete'
                          limit 1`;
  return row !== undefined;
}
