/**
 * What the admin dashboard reads and changes about people: search, one person's ledger and
 * payments, balance adjustments (through the ledger, as an `admin_adjustment` carrying the
 * admin's id and reason), tier changes, disabling and enabling. Every change is audited in its
 * own transaction.
 */
import type { Sql } from "../db/mod.ts";
import { notFound } from "../errors.ts";
import { postInTransaction } from "../wallet/ledger.ts";
import { type AdminActor, recordAudit } from "./audit.ts";
import type { PaymentListRow } from "./payments.ts";
import { likePattern, type Page } from "./query.ts";

export interface UserRow {
  id: string;
  email: string | null;
  display_name: string | null;
  phone: string | null;
  role: string;
  tier: string;
  disabled_at: Date | null;
  created_at: Date;
  /** Null for a person who never had a wallet entry. */
  balance: string | null;
}

/** People matching `q` (e-mail, phone or name, `%`/`_` literal), newest first; limit + 1 rows. */
export async function searchUsers(sql: Sql, q: string, page: Page): Promise<UserRow[]> {
  // The expression is the one indexed by users_search (migrations/0005_admin.sql).
  return await sql<UserRow[]>`
    select u.id, u.email, u.display_name, u.phone, u.role, u.tier, u.disabled_at,
           u.created_at, a.balance
    from users u left join ledger_accounts a on a.user_id = u.id
    ${
    q
      ? sql`where (coalesce(u.email, '') || ' ' || coalesce(u.phone, '') || ' ' ||
                   coalesce(u.display_name, '')) ilike ${likePattern(q)}`
      : sql``
  }
    order by u.created_at desc
    limit ${page.limit + 1} offset ${page.offset}`;
}

export interface LedgerLine {
  seq: string;
  kind: string;
  amount: string;
  description: string;
  created_at: Date;
  credited: boolean;
  admin_email: string | null;
}

/** A person's ledger entries, newest first, before entry `before` when given; limit + 1 rows. */
export async function userLedger(
  sql: Sql,
  userId: string,
  options: { before?: string | null; limit: number },
): Promise<LedgerLine[]> {
  return await sql<LedgerLine[]>`
    select e.seq, e.kind, e.amount, e.description, e.created_at,
           e.credit_account = a.id as credited, adm.email as admin_email
    from ledger_entries e
    join ledger_accounts a on a.user_id = e.user_id
    left join users adm on adm.id = e.admin_id
    where e.user_id = ${userId} ${options.before ? sql`and e.seq < ${options.before}` : sql``}
    order by e.seq desc limit ${options.limit + 1}`;
}

/** A payment as a person's page lists it: the payments list's columns less whose it is. */
export type UserPaymentRow = Pick<
  PaymentListRow,
  "id" | "status" | "currency" | "amount" | "method" | "tokens" | "flag" | "created_at"
>;

/** A person's latest payments. */
export async function recentUserPayments(
  sql: Sql,
  userId: string,
  limit = 10,
): Promise<UserPaymentRow[]> {
  return await sql<UserPaymentRow[]>`
    select id, status, currency, amount, method, tokens, flag, created_at from payments
    where user_id = ${userId} order by created_at desc limit ${limit}`;
}

/**
 * Adds `delta` tokens (negative takes away) to a person's wallet. `nonce` comes with the form:
 * a double submit posts one entry (the ledger's idempotency key). Returns the balance after.
 * Throws `insufficient_balance` when taking away more than there is.
 */
export async function adjustBalance(
  sql: Sql,
  actor: AdminActor,
  input: { userId: string; delta: number; reason: string; nonce: string },
): Promise<{ balance: number; applied: boolean }> {
  return await sql.begin(async (tx) => {
    const result = await postInTransaction(tx, {
      userId: input.userId,
      kind: "admin_adjustment",
      delta: input.delta,
      idempotencyKey: `admin:${input.nonce}`,
      description: input.reason,
      reference: { adminId: actor.id },
      adminId: actor.id,
    });
    if (result.applied) {
      await recordAudit(tx, actor, {
        action: "user.adjust_balance",
        targetType: "user",
        targetId: input.userId,
        before: { balance: result.balance - input.delta },
        after: { balance: result.balance, delta: input.delta, entryId: result.entry.id },
        reason: input.reason,
      });
    }
    return { balance: result.balance, applied: result.applied };
  });
}

/** Moves a person to another tier; throws not found for an unknown person. */
export async function changeTier(
  sql: Sql,
  actor: AdminActor,
  userId: string,
  tier: string,
): Promise<"changed" | "unchanged" | "invalid"> {
  const result = await sql.begin(async (tx) => {
    const [user] = await tx`select tier from users where id = ${userId} for update`;
    if (!user) throw notFound("This user");
    const [known] = await tx`select name from tiers where name = ${tier}`;
    if (!known) return "invalid" as const;
    if (user.tier === tier) return "unchanged" as const;
    await tx`update users set tier = ${tier}, updated_at = now() where id = ${userId}`;
    await recordAudit(tx, actor, {
      action: "user.change_tier",
      targetType: "user",
      targetId: userId,
      before: { tier: user.tier },
      after: { tier },
    });
    return "changed" as const;
  });
  return result;
}

/**
 * Disables or enables an account; false when it already was. Disabling signs the person out
 * everywhere: enabling the account later does not revive old sign-ins.
 */
export async function setUserDisabled(
  sql: Sql,
  actor: AdminActor,
  input: { userId: string; disabled: boolean; reason: string },
): Promise<boolean> {
  const { userId, disabled } = input;
  const changed = await sql.begin(async (tx) => {
    const [user] = await tx`select disabled_at from users where id = ${userId} for update`;
    if (!user) throw notFound("This user");
    if ((user.disabled_at !== null) === disabled) return false;
    await tx`update users set disabled_at = ${disabled ? new Date() : null},
               updated_at = now() where id = ${userId}`;
    if (disabled) {
      await tx`update sessions set revoked_at = now() where user_id = ${userId} and revoked_at is null`;
      await tx`update refresh_tokens set revoked_at = now()
               where user_id = ${userId} and revoked_at is null`;
    }
    await recordAudit(tx, actor, {
      action: `user.${disabled ? "disable" : "enable"}`,
      targetType: "user",
      targetId: userId,
      before: { disabled: user.disabled_at !== null },
      after: { disabled },
      reason: input.reason,
    });
    return true;
  });
  return changed;
}

/**
 * Grants or withdraws the officer role (an admin stays an admin: that role is not changed here),
 * with the grievance areas the officer is limited to (none: every area). Audited.
 */
export async function setOfficer(
  sql: Sql,
  actor: AdminActor,
  userId: string,
  input: { officer: boolean; areaIds: string[] },
): Promise<"changed" | "unchanged" | "admin"> {
  const result = await sql.begin(async (tx) => {
    const [user] = await tx`select role from users where id = ${userId} for update`;
    if (!user) throw notFound("This user");
    if (user.role === "admin") return "admin" as const;
    const before = {
      role: user.role,
      areas: (await tx<{ area_id: string }[]>`select area_id from grievance_officer_areas
                        where user_id = ${userId} order by area_id`).map((r) => r.area_id),
    };
    const role = input.officer ? "officer" : "user";
    const areas = input.officer
      ? (await tx<{ id: string }[]>`select id from grievance_areas
                  where id = any(${input.areaIds}::uuid[]) order by id`).map((r) => r.id)
      : [];
    if (before.role === role && JSON.stringify(before.areas) === JSON.stringify(areas)) {
      return "unchanged" as const;
    }
    await tx`update users set role = ${role}, updated_at = now() where id = ${userId}`;
    await tx`delete from grievance_officer_areas where user_id = ${userId}`;
    for (const area of areas) {
      await tx`insert into grievance_officer_areas (user_id, area_id) values (${userId}, ${area})`;
    }
    await recordAudit(tx, actor, {
      action: "user.officer",
      targetType: "user",
      targetId: userId,
      before,
      after: { role, areas },
    });
    return "changed" as const;
  });

  return result;
}
