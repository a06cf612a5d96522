/**
 * The signed-in admin of a request as the actor of audited changes (lib/admin/audit.ts keeps the
 * trail; domain code takes an `AdminActor`, never the HTTP context).
 */
import type { Context } from "hono";
import { type AdminActor, type AuditEntry, recordAudit } from "../../lib/admin/audit.ts";
import type { Tx } from "../../lib/wallet/ledger.ts";
import type { AuthEnv } from "../_auth.ts";

export type { AuditEntry };

/** The admin behind `c` (the admin guard has run) and the request's id. */
export function actorOf(c: Context<AuthEnv>): AdminActor {
  return { id: c.get("auth")!.user.id, requestId: c.get("requestId") ?? null };
}

/** Writes one audit row for the signed-in admin of `c`. */
export async function audit(tx: Tx, c: Context<AuthEnv>, entry: AuditEntry): Promise<void> {
  await recordAudit(tx, actorOf(c), entry);
}
