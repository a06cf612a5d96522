/**
 * The audit trail: every change an admin makes is one `audit_log` row (who, what, which target,
 * the state before and after, the reason), written in the same transaction as the change where
 * the change is a database write, so neither exists without the other.
 */
import type { Context } from "hono";
import type { Tx } from "../../lib/wallet/ledger.ts";
import type { AuthEnv } from "../_auth.ts";

export interface AuditEntry {
  action: string;
  targetType: string;
  targetId: string | null;
  before?: unknown;
  after?: unknown;
  reason?: string | null;
}

/** Writes one audit row for the signed-in admin of `c`. */
export async function audit(tx: Tx, c: Context<AuthEnv>, entry: AuditEntry): Promise<void> {
  const json = (v: unknown) => v === undefined || v === null ? null : tx.json(v as never);
  await tx`
    insert into audit_log (actor_id, action, target_type, target_id, before, after, reason,
                           request_id)
    values (${c.get("auth")!.user.id}, ${entry.action}, ${entry.targetType},
            ${entry.targetId}, ${json(entry.before)}, ${json(entry.after)},
            ${entry.reason ?? null}, ${c.get("requestId") ?? null})`;
}
