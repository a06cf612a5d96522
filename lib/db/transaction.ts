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
 * awaited as a whole, an error rolls back and is rethrown, savepoints nest. Remove this module
 * once a postgres.js release carries #1218.
 */
import type postgres from "postgres";

type Sql = postgres.Sql<Record<string, never>>;
type TransactionSql = postgres.TransactionSql<Record<string, never>>;
type Callback = (tx: TransactionSql) => unknown;

/** What the driver accepts after BEGIN (e.g. `isolation level serializable`), nothing else. */
const sanitize = (options: string) => options.replace(/[^a-z ]/gi, "");

const settle = async (value: unknown) => Array.isArray(value) ? await Promise.all(value) : value;

/** Replaces `sql.begin` on this instance; returns the same instance. */
export function installSafeBegin<T extends Sql>(sql: T): T {
  async function begin(optionsOrFn: string | Callback, maybeFn?: Callback): Promise<unknown> {
    const fn = typeof optionsOrFn === "function" ? optionsOrFn : maybeFn!;
    const options = typeof optionsOrFn === "string" ? sanitize(optionsOrFn) : "";
    const conn = await sql.reserve();
    let savepoints = 0;
    const tx = conn as unknown as TransactionSql & { savepoint: unknown };
    // Nested work in its own savepoint, as the driver's TransactionSql offers it.
    tx.savepoint = async (nameOrFn: string | Callback, maybeInner?: Callback) => {
      const inner = typeof nameOrFn === "function" ? nameOrFn : maybeInner!;
      const name = `s${savepoints++}${
        typeof nameOrFn === "string" ? `_${sanitize(nameOrFn)}` : ""
      }`;
      await conn.unsafe(`savepoint ${name}`);
      try {
        return await settle(await inner(tx));
      } catch (error) {
        await conn.unsafe(`rollback to savepoint ${name}`);
        throw error;
      }
    };
    try {
      await conn.unsafe(`begin ${options}`);
      let result: unknown;
      try {
        result = await settle(await fn(tx));
      } catch (error) {
        await conn.unsafe("rollback").catch(() => {});
        throw error;
      }
      // A statement that failed without being awaited leaves the transaction aborted; Postgres
      // then answers COMMIT with ROLLBACK rather than an error. Never report that as success.
      const done = await conn.unsafe("commit");
      if (done.command === "ROLLBACK") {
        throw new Error("the transaction was rolled back: one of its statements failed");
      }
      return result;
    } finally {
      conn.release();
    }
  }
  (sql as unknown as { begin: typeof begin }).begin = begin;
  return sql;
}
