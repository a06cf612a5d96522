/**
 * The token wallet: an exact, double-entry ledger in Postgres.
 *
 * - Every movement is one `ledger_entries` row moving `amount` tokens from a debit account to a
 *   credit account; both accounts' `balance` columns change in the same transaction, so the
 *   balances always equal the sum of their entries and all balances sum to zero.
 * - Every entry has a unique idempotency key: posting the same key again returns the first entry
 *   and changes nothing (a retried purchase callback cannot credit twice).
 * - A user's balance can never go negative: the user's account row is locked (`FOR UPDATE`)
 *   before the check, and a CHECK constraint backs it up, so concurrent spending serialises.
 * - `reserved` holds tokens for work in progress (lib/wallet/reservations.ts): available =
 *   balance − reserved.
 */
import type postgres from "postgres";
import type { Sql } from "../db/mod.ts";
import { AppError } from "../errors.ts";

export type EntryKind =
  | "purchase_credit"
  | "usage_debit"
  | "refund"
  | "admin_adjustment"
  | "signup_grant";

export type SystemAccount =
  | "system:sales"
  | "system:usage"
  | "system:refunds"
  | "system:adjustments"
  | "system:grants";

export interface LedgerEntry {
  id: string;
  kind: EntryKind;
  /** Signed change to the user's balance: positive credits, negative debits. */
  delta: number;
  description: string;
  reference: Record<string, unknown>;
  createdAt: Date;
}

export interface PostResult {
  entry: LedgerEntry;
  /** `false` when the idempotency key had been used: nothing changed this time. */
  applied: boolean;
  balance: number;
}

export interface WalletBalance {
  balance: number;
  reserved: number;
  available: number;
}

/** Any query function: the pool or a transaction. */
export type Tx = Sql | postgres.TransactionSql<Record<string, never>>;

export async function ensureUserAccount(tx: Tx, userId: string): Promise<void> {
  await tx`insert into ledger_accounts (kind, user_id, name)
           values ('user', ${userId}, ${"user:" + userId})
           on conflict (user_id) do nothing`;
}

/** The system account each kind of entry moves tokens to or from. */
export const SYSTEM_FOR: Record<EntryKind, SystemAccount> = {
  purchase_credit: "system:sales",
  usage_debit: "system:usage",
  refund: "system:refunds",
  admin_adjustment: "system:adjustments",
  signup_grant: "system:grants",
};

export interface PostEntry {
  userId: string;
  kind: EntryKind;
  /** Signed change to the user's balance (non-zero). Usage debits are negative. */
  delta: number;
  idempotencyKey: string;
  description: string;
  reference?: Record<string, unknown>;
  adminId?: string;
  /** For usage debits: take only what is available instead of failing (settling a stream). */
  capToAvailable?: boolean;
}

/** A `ledger_entries` row; bigint columns arrive as strings. */
interface EntryRow {
  id: string;
  seq: string;
  kind: EntryKind;
  user_id: string;
  credit_account: string;
  amount: string;
  description: string;
  reference: Record<string, unknown>;
  created_at: Date;
}

/** An entry as `userAccount`'s owner sees it: credited to them is a positive delta. */
function toEntry(row: EntryRow, userAccount: string): LedgerEntry {
  const amount = Number(row.amount);
  return {
    id: row.id,
    kind: row.kind,
    delta: row.credit_account === userAccount ? amount : -amount,
    description: row.description,
    reference: row.reference,
    createdAt: row.created_at,
  };
}

/** A `ledger_accounts` row's money columns (bigints, as strings). */
interface AccountRow {
  id: string;
  balance: string;
  reserved: string;
}

/**
 * Posts one entry inside the caller's transaction `tx` (the caller must be in a transaction so
 * the row lock holds until commit). Use {@link post} when there is no surrounding transaction.
 */
export async function postInTransaction(tx: Tx, e: PostEntry): Promise<PostResult> {
  if (!Number.isSafeInteger(e.delta) || e.delta === 0) {
    throw new AppError(
      "validation_failed",
      "The amount must be a whole, non-zero number of tokens.",
    );
  }
  const [account] = await tx<AccountRow[]>`
    select id, balance, reserved from ledger_accounts where user_id = ${e.userId} for update`;
  if (!account) throw new AppError("not_found", "This wallet does not exist.");

  const [previous] = await tx<
    EntryRow[]
  >`select * from ledger_entries where idempotency_key = ${e.idempotencyKey}`;
  if (previous) {
    if (previous.user_id !== e.userId) {
      throw new AppError("conflict", "This idempotency key was used for another wallet.");
    }
    return {
      entry: toEntry(previous, account.id),
      applied: false,
      balance: Number(account.balance),
    };
  }

  const balance = Number(account.balance);
  const available = balance - Number(account.reserved);
  let delta = e.delta;
  if (delta < 0 && -delta > available) {
    if (e.capToAvailable) delta = -Math.max(0, available);
    else {
      throw new AppError(
        "insufficient_balance",
        `Not enough tokens: this needs ${-delta} and ${Math.max(0, available)} are available.`,
        { needed: -delta, available: Math.max(0, available) },
      );
    }
  }
  if (delta === 0) {
    return {
      entry: {
        id: "",
        kind: e.kind,
        delta: 0,
        description: e.description,
        reference: e.reference ?? {},
        createdAt: new Date(),
      },
      applied: false,
      balance,
    };
  }
  const [system] = await tx<{ id: string }[]>`
    select id from ledger_accounts where name = ${SYSTEM_FOR[e.kind]}`;
  const [debit, credit] = delta > 0 ? [system.id, account.id] : [account.id, system.id];
  const amount = Math.abs(delta);
  const [row] = await tx<EntryRow[]>`
    insert into ledger_entries (idempotency_key, kind, debit_account, credit_account, amount,
                                user_id, description, reference, admin_id)
    values (${e.idempotencyKey}, ${e.kind}, ${debit}, ${credit}, ${amount}, ${e.userId},
            ${e.description}, ${tx.json((e.reference ?? {}) as never)}, ${e.adminId ?? null})
    returning *`;
  await tx`update ledger_accounts set balance = balance - ${amount}, updated_at = now()
           where id = ${debit}`;
  await tx`update ledger_accounts set balance = balance + ${amount}, updated_at = now()
           where id = ${credit}`;
  return { entry: toEntry(row, account.id), applied: true, balance: balance + delta };
}

/** Posts one entry in its own transaction. */
export async function post(sql: Sql, e: PostEntry): Promise<PostResult> {
  return await sql.begin((tx) => postInTransaction(tx, e));
}

export async function getBalance(sql: Sql, userId: string): Promise<WalletBalance> {
  const [row] = await sql<Omit<AccountRow, "id">[]>`
    select balance, reserved from ledger_accounts where user_id = ${userId}`;
  if (!row) throw new AppError("not_found", "This wallet does not exist.");
  const balance = Number(row.balance);
  const reserved = Number(row.reserved);
  return { balance, reserved, available: balance - reserved };
}

/** An opaque cursor: the position after the last entry of a page. */
function encodeCursor(seq: string): string {
  return btoa(`e:${seq}`).replace(/=+$/, "");
}

function decodeCursor(cursor: string): string {
  try {
    const m = atob(cursor).match(/^e:(\d{1,19})$/);
    if (!m) throw new Error();
    return m[1];
  } catch {
    throw new AppError("validation_failed", "The cursor is not valid; start again without it.", {
      field: "cursor",
    });
  }
}

/** The user's entries, newest first, `limit` at a time. */
export async function listEntries(
  sql: Sql,
  userId: string,
  options: { limit?: number; cursor?: string } = {},
): Promise<{ entries: LedgerEntry[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(options.limit ?? 20, 1), 100);
  const [account] = await sql<{ id: string }[]>`
    select id from ledger_accounts where user_id = ${userId}`;
  if (!account) throw new AppError("not_found", "This wallet does not exist.");
  const before = options.cursor ? decodeCursor(options.cursor) : null;
  const rows = before
    ? await sql<EntryRow[]>`select * from ledger_entries where user_id = ${userId}
                and seq < ${before} order by seq desc limit ${limit + 1}`
    : await sql<EntryRow[]>`select * from ledger_entries where user_id = ${userId}
                order by seq desc limit ${limit + 1}`;
  const page = rows.slice(0, limit);
  return {
    entries: page.map((r) => toEntry(r, account.id)),
    nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1].seq) : null,
  };
}
