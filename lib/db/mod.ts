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
import type { Logger } from "../observability/log.ts";

export type Sql = postgres.Sql<Record<string, never>>;
export type DatabaseKind = "embedded" | "server";

export interface Database {
  sql: Sql;
  kind: DatabaseKind;
  /**
   * The same database for background work (jobs, crons, the WhatsApp conversation): on the
   * embedded database its queries give way to those of `sql` (requests waiting on an answer),
   * see lib/db/pglite_wire.ts; on a server it has a small pool of its own, so requests never
   * wait for a connection that background work holds.
   */
  background: Database;
  /**
   * Runs `fn` only if no other holder (in this process or, on a real server, in any process on
   * the same database) holds `name`; returns `{ ran: false }` otherwise. The embedded database
   * serves one process only, so an in-process mutex is the whole story there.
   */
  tryWithLock<T>(
    name: string,
    fn: () => Promise<T>,
  ): Promise<{ ran: true; value: T } | { ran: false }>;
  /** Publishes to every listener of `channel` (across processes on a real server). */
  notify(channel: string, payload: string): Promise<void>;
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

const quiet = { onnotice: () => {} };

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    const url = options.databaseUrl;
    const pool = (max: number) => installSafeBegin(postgres(url, { max, ...quiet }) as Sql);
    // An advisory lock is held by a connection for as long as its holder works, and that work
    // needs connections too: holders get a pool of their own (connections open on demand), so
    // a few holders can never take every connection their own work waits for.
    const locks = pool(LOCK_CONNECTIONS);
    const db = serverDatabase(pool(options.max ?? 10), locks);
    // Background work gets connections of its own, and few: a burst of jobs can neither keep a
    // request waiting for a free connection nor take every core of the server at once.
    const background = serverDatabase(pool(BACKGROUND_CONNECTIONS), locks);
    db.background = background;
    background.background = background;
    const close = db.close;
    db.close = async () => {
      await Promise.all([close(), background.close()]);
      await locks.end({ timeout: 5 });
    };
    return db;
  }
  const dir = options.embeddedDir === undefined ? join("data", "pg") : options.embeddedDir;
  const started = performance.now();
  const embedded = await startEmbeddedPostgres(dir);
  options.log.info("embedded database ready", {
    dir: dir ?? "memory",
    ms: Math.round(performance.now() - started),
  });
  const wire = new PgliteWire(embedded.pg);
  const connect = (priority: number) =>
    installSafeBegin(postgres({
      // postgres.js takes a socket-like object in `socket` (not in its type declarations).
      ...{ socket: () => wire.connect(priority) },
      user: "postgres",
      database: "postgres",
      // One connection each: a session runs one query at a time anyway.
      max: 1,
      ...quiet,
    }) as Sql);
  const sql = connect(PRIORITY_REQUESTS);
  const background = connect(PRIORITY_BACKGROUND);
  return embeddedDatabase(sql, background, () => {
    wire.close();
    return embedded.stop();
  });
}

/** Connections of the background pool on a database server (the requests' pool has `max`). */
const BACKGROUND_CONNECTIONS = 4;
/** Advisory locks held at once by one process, at most (more holders wait for a connection). */
const LOCK_CONNECTIONS = 8;

/** Requests someone is waiting on go before background work on the embedded database. */
const PRIORITY_REQUESTS = 1;
const PRIORITY_BACKGROUND = 0;

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
  const db: Database = {
    sql,
    kind: "server",
    background: undefined as unknown as Database, // set by openDatabase
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
    async notify(channel, payload) {
      await sql.notify(channel, payload);
    },
    async listen(channel, onPayload) {
      const { unlisten } = await sql.listen(channel, onPayload);
      return unlisten;
    },
    ping: (timeoutMs = 2000) => ping(sql, timeoutMs),
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
  return db;
}

function embeddedDatabase(
  sql: Sql,
  backgroundSql: Sql,
  stop: () => Promise<void>,
): Database {
  // One process owns the embedded database (lib/db/embedded.ts takes a file lock), so process-
  // local structures are exact here: advisory locks and LISTEN do not work through the socket.
  const held = new Set<string>();
  const bus = new EventTarget();
  const db: Omit<Database, "background"> = {
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
    notify(channel, payload) {
      bus.dispatchEvent(new MessageEvent(channel, { data: payload }));
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
      await Promise.all([sql.end({ timeout: 5 }), backgroundSql.end({ timeout: 5 })]);
      await stop();
    },
  };
  // The same database, locks and channels; only the connection (and its priority) differs.
  const foreground = db as Database;
  const background = { ...db, sql: backgroundSql } as Database;
  foreground.background = background;
  background.background = background;
  return foreground;
}
