/**
 * What the user's answers cost, read from the ledger (the bill itself, not the messages' own
 * copy of it): each `usage_debit` with the conversation it was for.
 */
import type { Sql } from "../db/mod.ts";

export interface UsageLine {
  at: Date;
  /** "Chat answer", "Essay", "Bot answer" (the ledger entry's description). */
  description: string;
  /** Wallet tokens charged. */
  cost: number;
  /** The conversation's title, when the answer belongs to one that still exists. */
  conversationTitle: string | null;
}

/** A `usage_debit` ledger entry with its conversation's title (null when it is gone). */
type UsageRow = Omit<UsageLine, "cost"> & {
  /** A bigint: postgres.js reads it as a string. */
  cost: string;
};

/** The user's most recent charges for answers, newest first. */
export async function listUsage(sql: Sql, userId: string, limit = 20): Promise<UsageLine[]> {
  const rows = await sql<UsageRow[]>`
    select e.created_at as at, e.description, e.amount as cost, c.title as "conversationTitle"
    from ledger_entries e
    left join conversations c
      on c.id::text = e.reference ->> 'conversationId' and c.user_id = e.user_id
    where e.user_id = ${userId} and e.kind = 'usage_debit'
    order by e.seq desc limit ${Math.min(Math.max(limit, 1), 100)}`;
  return rows.map((row) => ({ ...row, cost: Number(row.cost) }));
}
