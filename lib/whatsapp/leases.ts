/**
 * Per-phone leases in Postgres: one worker at a time answers a phone (`reply`) and one sends to
 * it (`send`), in every process sharing the database. A lease expires on its own, so a worker
 * that died holds nothing for long. (Advisory locks would do on a real server but do not
 * exclude anything on the embedded database, where all connections share one session.)
 */
import type { Sql } from "../db/mod.ts";

export type LeaseKind = "reply" | "send";

/** A fresh holder name: one per worker pass (two jobs of one process must exclude each other). */
export const newHolder = () => crypto.randomUUID();

/** Takes the lease if it is free or expired; true when this holder has it now. */
export async function acquireLease(
  sql: Sql,
  phone: string,
  kind: LeaseKind,
  ttlMs: number,
  holder: string,
): Promise<boolean> {
  const rows = await sql`
    insert into whatsapp_leases (phone, kind, holder, leased_until)
    values (${phone}, ${kind}, ${holder}, now() + ${ttlMs} * interval '1 millisecond')
    on conflict (phone, kind) do update
      set holder = excluded.holder, leased_until = excluded.leased_until
      where whatsapp_leases.leased_until < now() or whatsapp_leases.holder = excluded.holder
    returning holder`;
  return rows.length === 1;
}

/** Pushes the expiry forward (long AI answers); false if the lease was lost meanwhile. */
export async function renewLease(
  sql: Sql,
  phone: string,
  kind: LeaseKind,
  ttlMs: number,
  holder: string,
): Promise<boolean> {
  const rows = await sql`
    update whatsapp_leases set leased_until = now() + ${ttlMs} * interval '1 millisecond'
    where phone = ${phone} and kind = ${kind} and holder = ${holder}
    returning phone`;
  return rows.length === 1;
}

export async function releaseLease(
  sql: Sql,
  phone: string,
  kind: LeaseKind,
  holder: string,
): Promise<void> {
  await sql`delete from whatsapp_leases
            where phone = ${phone} and kind = ${kind} and holder = ${holder}`;
}
