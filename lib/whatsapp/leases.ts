/**
 * Per-phone leases: one worker at a time answers a phone (`reply`) and one sends to it (`send`),
 * so a phone's messages are handled and sent in order.
 *
 * - Embedded database: one process owns it (lib/db/embedded.ts), so an in-process table is
 *   exact and costs no query; a worker that finds the lease taken leaves a note, and the holder
 *   goes round once more before letting go.
 * - Real server: a row in `whatsapp_leases` with an expiry, shared by every process; a worker
 *   that died holds nothing for long. The holder looks for new work after letting go (advisory
 *   locks would pin a pooled connection for as long as the lease is held). A `send` lease's row
 *   also keeps when the phone was last sent to, so the gap between two messages to one user
 *   holds whichever instance sends the next one.
 */
import type { Database } from "../db/mod.ts";

export type LeaseKind = "reply" | "send";

export interface Lease {
  /**
   * How long ago the phone was last sent to, as the lease's record says (a `send` lease on a
   * server); null when unknown (never, or this process's own pacing knows it).
   */
  readonly lastSentAgoMs: number | null;
  /**
   * Notes a send to the phone now, for the next holder's `lastSentAgoMs`. Written with the
   * release (no statement per send): until then no other worker can send to the phone anyway.
   */
  sent(): void;
  /** Pushes the expiry forward (long AI answers); false if the lease was lost meanwhile. */
  renew(): Promise<boolean>;
  /** Lets go; true when new work may have arrived for the phone while it was held. */
  release(): Promise<boolean>;
}

/** The phone leases of one app instance. */
export interface Leases {
  /** Takes the phone's lease, or null when another worker holds it. */
  acquire(phone: string, kind: LeaseKind, ttlMs: number): Promise<Lease | null>;
}

/**
 * @example
 * const leases = createLeases(db);
 * const lease = await leases.acquire("+263771234567", "reply", 180_000);
 * if (lease) try { ... } finally { await lease.release(); }
 */
export function createLeases(db: Database): Leases {
  return db.kind === "embedded" ? localLeases() : sharedLeases(db);
}

/** The embedded database's process is the only one: a table in memory is exact. */
function localLeases(): Leases {
  const held = new Map<string, { wanted: boolean }>();
  return {
    acquire(phone, kind) {
      const key = `${kind}:${phone}`;
      const current = held.get(key);
      if (current) {
        current.wanted = true;
        return Promise.resolve(null);
      }
      const entry = { wanted: false };
      held.set(key, entry);
      return Promise.resolve({
        lastSentAgoMs: null,
        sent: () => {},
        renew: () => Promise.resolve(true),
        release() {
          held.delete(key);
          return Promise.resolve(entry.wanted);
        },
      });
    },
  };
}

/** A row per held lease in `whatsapp_leases`, with an expiry, seen by every process. */
function sharedLeases(db: Database): Leases {
  const sql = db.sql;
  return {
    async acquire(phone, kind, ttlMs) {
      const holder = crypto.randomUUID();
      const rows = await sql`
        insert into whatsapp_leases (phone, kind, holder, leased_until)
        values (${phone}, ${kind}, ${holder}, now() + ${ttlMs} * interval '1 millisecond')
        on conflict (phone, kind) do update
          set holder = excluded.holder, leased_until = excluded.leased_until
          where whatsapp_leases.leased_until < now()
        returning holder,
          (extract(epoch from now() - last_sent_at) * 1000)::float8 as last_sent_ago_ms`;
      if (rows.length !== 1) return null;
      const ago = rows[0].last_sent_ago_ms as number | null;
      /** When this holder last sent to the phone (performance.now()); null: not yet. */
      let sentAt: number | null = null;
      return {
        lastSentAgoMs: ago === null ? null : Math.max(0, ago),
        sent() {
          sentAt = performance.now();
        },
        async renew() {
          const renewed = await sql`
            update whatsapp_leases set leased_until = now() + ${ttlMs} * interval '1 millisecond'
            where phone = ${phone} and kind = ${kind} and holder = ${holder} returning phone`;
          return renewed.length === 1;
        },
        async release() {
          // A send lease's row stays (free) for its last send time; pruneLeases removes it.
          if (kind === "send") {
            const sentAgoMs = sentAt === null ? null : performance.now() - sentAt;
            await sql`update whatsapp_leases set leased_until = '-infinity',
                        last_sent_at = coalesce(
                          now() - ${sentAgoMs}::float8 * interval '1 millisecond', last_sent_at)
                      where phone = ${phone} and kind = ${kind} and holder = ${holder}`;
          } else {
            await sql`delete from whatsapp_leases
                      where phone = ${phone} and kind = ${kind} and holder = ${holder}`;
          }
          return true;
        },
      };
    },
  };
}

/** Deletes free leases whose last send is long past (kept only for the gap between sends). */
export async function pruneLeases(db: Database): Promise<number> {
  const gone = await db.sql`
    delete from whatsapp_leases
    where leased_until < now() - interval '1 hour'
      and (last_sent_at is null or last_sent_at < now() - interval '1 hour')
    returning 1`;
  return gone.length;
}
