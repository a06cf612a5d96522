/**
 * A safe `sql.begin` for postgres.js 3.4.9.
 *
 * Its own `begin` writes BEGIN and only then reserves the connection, through a hook that is
 * skipped when BEGIN is the query that fills the connection's pipeline (porsager/postgres#1189,
 * #823; the fix, #1218, is not released). The transaction then stays open on the server while
 * the connection goes back to the pool, and every later query on it runs inside that
 * transaction: with the embedded database's single connection, the whole service's writes
 * would hang on one uncommitted transaction. It takes only 100 queries in flight at once.
 *
 * This `begin` reserves a connection first (`sql.reserve()` hands over a connection only when
 * the pool can give it exclusively) and writes BEGIN on it afterwards, so no other query can
 * ever share it. Same signature and behaviour as the driver's: a callback returning an array is
 * awaited as a whole, an error rolls back and is rethrown, savepoints nest.
 *
 * A reserved handle also outlives its connection in 3.4.9 (porsager/postgres#1199, #1195): once
 * the server closes the connection (idle-in-transaction timeout, restart, failover), the pool
 * reopens it for other callers while the handle still writes to it. The transaction's later
 * statements then ran on the new session, each committed on its own, COMMIT reported success,
 * and a statement written in between never settled (an uncaught TypeError). So the transaction
 * is bound to its connection (docs/postgres-js-reserved-connection.md): it fails as soon as the
 * connection closes, none of its statements is written once the connection is no longer
 * reserved for it, and a connection it no longer holds is not released. Remove this module once
 * a postgres.js release carries #1218 and ends a reserved handle with its connection
 * (lib/db/transaction_test.ts tells).
 */
import type postgres from "postgres";

type Sql = postgres.Sql<Record<string, never>>;
type TransactionSql = postgres.TransactionSql<Record<string, never>>;
type ReservedSql = postgres.ReservedSql<Record<string, never>>;
type Callback = (tx: TransactionSql) => unknown;

/** What postgres.js 3.4.9 keeps on a connection and a query, read here (not in its types). */
interface DriverConnection {
  /** The reservation holding the connection; replaced or cleared when it ends or closes. */
  reserved: unknown;
  /** Called once when the connection closes (the driver's own `begin` listens the same way). */
  onclose: ((error: Error) => void) | null;
}
type Execute = ((query: DriverQuery) => void) & { debug?: unknown };
interface DriverQuery {
  /** Writes the query to its connection; called when the query is first awaited. */
  handler: Execute;
  reject(error: Error): void;
}

/** What the driver accepts after BEGIN (e.g. `isolation level serializable`), nothing else. */
const sanitize = (options: string) => options.replace(/[^a-z ]/gi, "");

const settle = async (value: unknown) => Array.isArray(value) ? await Promise.all(value) : value;

/**
 * Looks like the connection itself failed: the driver's CONNECTION_* errors, a socket's (EPIPE,
 * ECONNRESET: an errno name, where SQLSTATEs never start with E), or a FATAL from the server.
 */
function connectionFailed(error: unknown): boolean {
  const { code, syscall, severity } = (error ?? {}) as Record<string, unknown>;
  return (typeof code === "string" && /^(CONNECTION_|E[A-Z]+$)/.test(code)) ||
    syscall !== undefined || severity === "FATAL";
}

/** How long a connection that seems to have failed is given to close before ROLLBACK. */
const CLOSE_GRACE_MS = 1_000;

/**
 * A reserved handle bound to the connection its first statement is written to. `lost` rejects
 * when that connection closes; `held()` is false from then on, or once another reservation has
 * the connection.
 */
function bindToConnection(conn: ReservedSql) {
  let connection: DriverConnection | null = null;
  let reservation: unknown;
  let closed: Error | null = null;
  let abort!: (error: Error) => void;
  const lost = new Promise<never>((_, reject) => abort = reject);
  lost.catch(() => {});
  const held = () => connection !== null && connection.reserved === reservation;
  const lostError = () =>
    closed ?? new Error("the transaction's connection was taken from it; it was not committed");
  const onclose = (error: Error) => (closed = error, abort(error));
  // The driver hands `onexecute` the connection a query is written to, when written at once.
  const naming = {
    onexecute(c: DriverConnection) {
      if (connection === null) {
        connection = c;
        reservation = c.reserved;
        c.onclose = onclose;
      }
      return true;
    },
  } as unknown as postgres.UnsafeQueryOptions;

  /** Runs `statement` (BEGIN) on the connection, binding to it. */
  async function open(statement: string): Promise<void> {
    await conn.unsafe(statement, [], naming);
    // Not written at once (a full pipeline): the next query, on an idle connection, will be.
    if (connection === null) await conn.unsafe("select 1", [], naming);
    if (connection === null) throw new Error("postgres.js did not name the connection it used");
  }

  /** Lets `made` (a query, or a fragment) be written only while the connection is held. */
  function guard<R>(made: R): R {
    const query = made as unknown as DriverQuery;
    if (made instanceof Promise && typeof query.handler === "function") {
      const execute = query.handler;
      query.handler = Object.assign(
        (q: DriverQuery) => held() ? execute(q) : q.reject(lostError()),
        { debug: execute.debug },
      );
    }
    return made;
  }

  /** Resolves when the connection has closed, or after `ms` if it has not. */
  async function closedWithin(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<void>((resolve) => timer = setTimeout(resolve, ms));
    await Promise.race([lost.catch(() => {}), waited]);
    clearTimeout(timer);
  }

  /** Stops listening; true when the connection is still this handle's to release. */
  function unbind(): boolean {
    if (connection === null) return true; // never named: nothing known against releasing it
    if (connection.onclose === onclose) connection.onclose = null;
    return held();
  }

  return { lost, held, lostError, open, guard, closedWithin, unbind };
}

/** Replaces `sql.begin` on this instance; returns the same instance. */
export function installSafeBegin<T extends Sql>(sql: T): T {
  async function begin(optionsOrFn: string | Callback, maybeFn?: Callback): Promise<unknown> {
    const fn = typeof optionsOrFn === "function" ? optionsOrFn : maybeFn!;
    const options = typeof optionsOrFn === "string" ? sanitize(optionsOrFn) : "";
    const conn = await sql.reserve();
    const binding = bindToConnection(conn);
    const { lost, held, guard } = binding;

    let savepoints = 0;
    // Nested work in its own savepoint, as the driver's TransactionSql offers it.
    const savepoint = async (nameOrFn: string | Callback, maybeInner?: Callback) => {
      const inner = typeof nameOrFn === "function" ? nameOrFn : maybeInner!;
      const name = `s${savepoints++}${
        typeof nameOrFn === "string" ? `_${sanitize(nameOrFn)}` : ""
      }`;
      await tx.unsafe(`savepoint ${name}`);
      try {
        return await settle(await inner(tx));
      } catch (error) {
        // A failed connection fails the whole transaction: no savepoint to go back to on it.
        if (held() && !connectionFailed(error)) await tx.unsafe(`rollback to savepoint ${name}`);
        throw error;
      }
    };
    const tx = Object.assign((...args: Parameters<typeof conn>) => guard(conn(...args)), conn, {
      unsafe: (...args: Parameters<typeof conn.unsafe>) => guard(conn.unsafe(...args)),
      file: (...args: Parameters<typeof conn.file>) => guard(conn.file(...args)),
      json: sql.json, // the pool's, whose undefined is NULL (lib/db/parameters.ts)
      savepoint,
      release: undefined,
    }) as unknown as TransactionSql;

    try {
      await binding.open(`begin ${options}`);
      let result: unknown;
      try {
        result = await Promise.race([(async () => settle(await fn(tx)))(), lost]);
      } catch (error) {
        // A dying connection is rolled back by the server. A ROLLBACK written to it before the
        // driver has seen it close would stay queued on it and take a later query's answer.
        if (connectionFailed(error)) await binding.closedWithin(CLOSE_GRACE_MS);
        if (held()) await Promise.race([conn.unsafe("rollback"), lost]).catch(() => {});
        throw error;
      }
      if (!held()) throw binding.lostError();
      // A statement that failed without being awaited leaves the transaction aborted; Postgres
      // then answers COMMIT with ROLLBACK rather than an error. Never report that as success.
      const done = await Promise.race([conn.unsafe("commit"), lost]);
      if (done.command === "ROLLBACK") {
        throw new Error("the transaction was rolled back: one of its statements failed");
      }
      return result;
    } finally {
      if (binding.unbind()) conn.release();
    }
  }
  (sql as unknown as { begin: typeof begin }).begin = begin;
  return sql;
}
