/**
 * The one database access module. Everything durable lives in Postgres, reached through
 * postgres.js: a pool against `DATABASE_URL`, or one connection to the embedded PGlite.
 *
 * The two back ends differ in a few behaviours (advisory locks, LISTEN/NOTIFY, row-claiming
 * with SKIP LOCKED); those differences live behind {@link Database.tryWithLock} and
 * {@link Database.notify}/{@link Database.listen} so callers never branch on the back end.
 */
import postgres from "postgres";
import { join } from "node:path";
import { startEmbeddedPostgres } from "./embedded.ts";
import { PgliteWire } from "./pglite_wire.ts";
import { installSafeBegin } from "./transaction.ts";
import { PARAMETERS, withJsonUndefinedAsNull } from "./parameters.ts";
import type { Logger } from "../observability/log.ts";

export type Sql = postgres.Sql<Record<string, never>>;
export type DatabaseKind = "embedded" | "server";

export interface Database {
  sql: Sql;
  kind: DatabaseKind;
  /**
   * Runs `fn` only if no other holder (in this process or, on a real server, in any process on
   * the same database) holds `name`; returns `{ ran: false }` otherwise. The embedded database
   * serves one process only, so an in-process mutex is the whole story there.
   */
  tryWithLock<T>(
    name: string,
    fn: () => Promise<T>,
  ): Promise<{ ran: true; value: T } | { ran: false }>;
  /**
   * Publishes to every listener of `channel` (across processes on a real server), in order; a
   * few payloads go in one statement. Identical payloads of one call arrive once (Postgres
   * folds repeats within a transaction).
   */
  notify(channel: string, ...payloads: string[]): Promise<void>;
  /** Subscribes to `channel`; returns the unsubscribe function. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /** `true` when a trivial query answers within `timeoutMs`. */
  ping(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  databaseUrl?: string;
  /** Where the embedded database lives (`DATA_DIR/pg`); `null` → in memory (tests). */
  embeddedDir?: string | null;
  log: Logger;
  /** Pool size against a real server. */
  max?: number;
}

/** Options of every pool: no notices logged, parameters that can never desynchronise it. */
const common = { onnotice: () => {}, ...PARAMETERS };

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    const url = options.databaseUrl;
    const pool = (max: number) =>
      installSafeBegin(
        withJsonUndefinedAsNull(postgres(url, { max, connection: SESSION, ...common }) as Sql),
      );
    // An advisory lock is held by a connection for as long as its holder works, and that work
    // needs connections too: holders get a pool of their own (connections open on demand), so
    // a few holders can never take every connection their own work waits for.
    return serverDatabase(pool(options.max ?? 10), pool(LOCK_CONNECTIONS));
  }
  const dir = options.embeddedDir === undefined ? join("data", "pg") : options.embeddedDir;
  const started = performance.now();
  const embedded = await startEmbeddedPostgres(dir);
  options.log.info("embedded database ready", {
    dir: dir ?? "memory",
    ms: Math.round(performance.now() - started),
  });
  const wire = new PgliteWire(embedded.pg);
  const sql = installSafeBegin(withJsonUndefinedAsNull(postgres({
    // postgres.js takes a socket-like object in `socket` (not in its type declarations).
    ...{ socket: () => wire.connect() },
    user: "postgres",
    database: "postgres",
    max: EMBEDDED_CONNECTIONS,
    ...common,
  }) as Sql));
  return embeddedDatabase(sql, () => {
    wire.close();
    return embedded.stop();
  });
}

/**
 * Settings of every session on a server. A transaction left idle for a minute is rolled back and
 * its connection closed by the server (lib/db/transaction.ts then fails it at once), so a
 * transaction stuck in this process never holds its rows' locks for longer. Transactions here
 * wait on nothing but the database between their statements; keep it so.
 */
const SESSION = { idle_in_transaction_session_timeout: 60_000 };

/** Advisory locks held at once by one process, at most (more holders wait for a connection). */
const LOCK_CONNECTIONS = 8;
/**
 * In-process connections to the embedded database. PGlite runs one statement at a time whatever
 * their number; a few let a transaction hold one (lib/db/transaction.ts reserves it) while the
 * others keep taking queries, which wait at the wire until it ends (lib/db/pglite_wire.ts).
 */
const EMBEDDED_CONNECTIONS = 4;

async function ping(sql: Sql, timeoutMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      sql`select 1 as ok`.then((rows) => rows[0]?.ok === 1),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), timeoutMs)),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

function serverDatabase(sql: Sql, locks: Sql): Database {
  return {
    sql,
    kind: "server",
    async tryWithLock(name, fn) {
      const conn = await locks.reserve();
      try {
        const [{ locked }] = await conn`select pg_try_advisory_lock(hashtext(${name})) as locked`;
        if (!locked) return { ran: false };
        try {
          return { ran: true, value: await fn() };
        } finally {
          await conn`select pg_advisory_unlock(hashtext(${name}))`;
        }
      } finally {
        conn.release();
      }
    },
    async notify(channel, ...payloads) {
      if (payloads.length === 1) return void await sql.notify(channel, payloads[0]);
      if (payloads.length === 0) return;
      await sql`select pg_notify(${channel}, p) from unnest(${payloads}::text[]) as t(p)`;
    },
    async listen(channel, onPayload) {
      const { unlisten } = await sql.listen(channel, onPayload);
      return unlisten;
    },
    ping: (timeoutMs = 2000) => ping(sql, timeoutMs),
    async close() {
      await sql.end({ timeout: 5 });
      await locks.end({ timeout: 5 });
    },
  };
}

function embeddedDatabase(sql: Sql, stop: () => Promise<void>): Database {
  // One process owns the embedded database (lib/db/embedded.ts takes a file lock), so process-
  // local structures are exact here: advisory locks and LISTEN do not work through the socket.
  const held = new Set<string>();
  const bus = new EventTarget();
  return {
    sql,
    kind: "embedded",
    async tryWithLock(name, fn) {
      if (held.has(name)) return { ran: false };
      held.add(name);
      try {
        return { ran: true, value: await fn() };
      } finally {
        held.delete(name);
      }
    },
    notify(channel, ...payloads) {
      for (const data of new Set(payloads)) bus.dispatchEvent(new MessageEvent(channel, { data }));
      return Promise.resolve();
    },
    listen(channel, onPayload) {
      const handler = (e: Event) => onPayload((e as MessageEvent<string>).data);
      bus.addEventListener(channel, handler);
      return Promise.resolve(() => {
        bus.removeEventListener(channel, handler);
        return Promise.resolve();
      });
    },
    ping: (timeoutMs = 2000) => ping(sql, timeoutMs),
    async close() {
      await sql.end({ timeout: 5 });
      await stop();
    },
  };
}
