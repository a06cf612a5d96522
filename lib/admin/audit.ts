/**
 * The audit trail: every change an admin makes is one `audit_log` row (who, what, which target,
 * the state before and after, the reason), written in the same transaction as the change where
 * the change is a database write, so neither exists without the other.
 */
import type { Sql } from "../db/mod.ts";
import type { Tx } from "../wallet/ledger.ts";
import { type Page, whereAll } from "./query.ts";

/** The admin making a change, and the request it came with (kept for tracing). */
export interface AdminActor {
  id: string;
  requestId?: string | null;
}

export interface AuditEntry {
  action: string;
  targetType: string;
  targetId: string | null;
  before?: unknown;
  after?: unknown;
  reason?: string | null;
}

/** Writes one audit row for `actor`, inside the caller's transaction when given one. */
export async function recordAudit(tx: Tx, actor: AdminActor, entry: AuditEntry): Promise<void> {
  const json = (v: unknown) => v === undefined || v === null ? null : tx.json(v as never);
  await tx`
    insert into audit_log (actor_id, action, target_type, target_id, before, after, reason,
                           request_id)
    values (${actor.id}, ${entry.action}, ${entry.targetType},
            ${entry.targetId}, ${json(entry.before)}, ${json(entry.after)},
            ${entry.reason ?? null}, ${actor.requestId ?? null})`;
}

export interface AuditFilters {
  action?: string;
  targetType?: string;
  targetId?: string;
}

export interface AuditRow {
  id: string;
  at: Date;
  action: string;
  target_type: string;
  target_id: string | null;
  before: unknown;
  after: unknown;
  reason: string | null;
  actor_email: string | null;
  /** What the target is called (a user's e-mail, a payment's reference); null if unknown. */
  target_name: string | null;
}

/** Newest first; one row more than `page.limit` tells the caller another page exists. */
export async function listAudit(sql: Sql, filters: AuditFilters, page: Page): Promise<AuditRow[]> {
  const where = whereAll(sql, [
    filters.action ? sql`l.action = ${filters.action}` : null,
    filters.targetType ? sql`l.target_type = ${filters.targetType}` : null,
    filters.targetId ? sql`l.target_id = ${filters.targetId}` : null,
  ]);
  return await sql<AuditRow[]>`
    select l.*, u.email as actor_email, coalesce(tu.email, tp.reference) as target_name
    from audit_log l
    left join users u on u.id = l.actor_id
    left join users tu on l.target_type = 'user' and tu.id::text = l.target_id
    left join payments tp on l.target_type = 'payment' and tp.id::text = l.target_id
    ${where}
    order by l.at desc, l.id desc
    limit ${page.limit + 1} offset ${page.offset}`;
}

/** Every action name recorded so far (the filter's choices). */
export async function auditActions(sql: Sql): Promise<string[]> {
  const rows = await sql<{ action: string }[]>`select distinct action from audit_log order by 1`;
  return rows.map((r) => r.action);
}

/** The latest changes made to one target. */
export async function recentAudit(
  sql: Sql,
  targetType: string,
  targetId: string,
  limit = 10,
): Promise<{ action: string; reason: string | null; at: Date; actor: string | null }[]> {
  return await sql<{ action: string; reason: string | null; at: Date; actor: string | null }[]>`
    select l.action, l.reason, l.at, adm.email as actor from audit_log l
    left join users adm on adm.id = l.actor_id
    where l.target_type = ${targetType} and l.target_id = ${targetId}
    order by l.at desc limit ${limit}`;
}

/** One value that differs between an audit row's before and after, by its path (`prices.USD`). */
export interface AuditChange {
  path: string;
  before: unknown;
  after: unknown;
}

/**
 * What a change changed: the leaves of `before` and `after` (objects walked by key, arrays and
 * scalars compared whole) that differ, in path order. A value only on one side (a creation, a
 * deletion) has `undefined` on the other.
 */
export function auditDiff(before: unknown, after: unknown): AuditChange[] {
  const changes: AuditChange[] = [];
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  const walk = (path: string, a: unknown, b: unknown) => {
    const bothObjects = (isObject(a) || a === undefined) && (isObject(b) || b === undefined);
    if (bothObjects && (isObject(a) || isObject(b))) {
      a = a ?? {};
      b = b ?? {};
      if (!isObject(a) || !isObject(b)) return;
      const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
      for (const k of keys) walk(path ? `${path}.${k}` : k, a[k], b[k]);
    } else if (JSON.stringify(a) !== JSON.stringify(b)) {
      changes.push({ path, before: a, after: b });
    }
  };
  walk("", before ?? undefined, after ?? undefined);
  return changes;
}
