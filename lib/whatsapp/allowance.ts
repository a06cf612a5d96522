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

/** Where `message` stands against the phone's `perMinute` allowance. */
export async function allowanceOf(
  sql: Sql,
  message: { phone: string; seq: string | number | bigint; receivedAt: Date },
  perMinute: number,
): Promise<Allowance> {
  const [row] = await sql`
    select count(*)::int as earlier from whatsapp_inbound
    where phone = ${message.phone} and provider <> 'system'
      and received_at >= date_trunc('minute', ${message.receivedAt}::timestamptz)
      and seq < ${String(message.seq)}`;
  const earlier = row.earlier as number;
  if (earlier < perMinute) return "ok";
  return earlier === perMinute ? "warn" : "silent";
}
