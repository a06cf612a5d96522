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
}

/** Newest first; one row more than `page.limit` tells the caller another page exists. */
export async function listAudit(sql: Sql, filters: AuditFilters, page: Page): Promise<AuditRow[]> {
  const where = whereAll(sql, [
    filters.action ? sql`l.action = ${filters.action}` : null,
    filters.targetType ? sql`l.target_type = ${filters.targetType}` : null,
    filters.targetId ? sql`l.target_id = ${filters.targetId}` : null,
  ]);
  return await sql<AuditRow[]>`
    select l.*, u.email as actor_email from audit_log l
    left join users u on u.id = l.actor_id
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
