/**
 * A phone's allowance of messages a minute (WHATSAPP_USER_RATE_LIMIT): the message that goes
 * over it gets a "slow down" reply, the rest of that minute none.
 *
 * Counted from the stored messages themselves rather than in a counter: they are in Postgres
 * already, seen alike by every instance, so the allowance holds for the whole system whichever
 * instance answers; and a phone's messages are answered by whichever instance holds its lease,
 * which a share of the limit counted in each process would misjudge. Counting costs one indexed
 * read per message and writes nothing. The minute is the one the message was received in (the
 * database's clock), and its place in that minute is its arrival order, so answering it again
 * (a retry, another instance after a crash) decides the same.
 */
import type { Sql } from "../db/mod.ts";

export type Allowance = "ok" | "warn" | "silent";

/**
 * How many of the phone's messages came before the inbound row aliased `i` in its minute: a
 * scalar subquery for a query on `whatsapp_inbound i` (the reply job reads it with the row).
 */
export const earlierInMinute = (sql: Sql) =>
  sql`(select count(*)::int from whatsapp_inbound e
       where e.phone = i.phone and e.provider <> 'system'
         and e.received_at >= date_trunc('minute', i.received_at) and e.seq < i.seq)`;

/** Where a message with `earlier` messages before it in its minute stands against `perMinute`. */
export function allowanceFor(earlier: number, perMinute: number): Allowance {
  if (earlier < perMinute) return "ok";
  return earlier === perMinute ? "warn" : "silent";
}

/** Where the stored message `seq` stands against its phone's `perMinute` allowance. */
export async function allowanceOf(
  sql: Sql,
  message: { seq: string | number | bigint },
  perMinute: number,
): Promise<Allowance> {
  const [row] = await sql<{ earlier: number }[]>`
    select ${earlierInMinute(sql)} as earlier from whatsapp_inbound i
    where i.seq = ${String(message.seq)}`;
  return allowanceFor(row.earlier, perMinute);
}
