/**
 * Embedded Postgres: PGlite persisted in a directory, reached by postgres.js through
 * lib/db/pglite_wire.ts (in-process connections that deliver whole queries), so
 * the rest of the code speaks to it with postgres.js exactly as it speaks to a real server.
 *
 * Pitfalls this module guards against:
 * - connections that pass protocol messages on one by one (as pglite-socket does) must be ONE
 *   connection, or concurrent queries get wrong rows: the wire delivers whole queries instead;
 * - PGlite does not lock its data directory, so we take an OS file lock (flock) and refuse a
 *   second process with a clear message. The kernel drops the lock when the process dies, so a
 *   crash never leaves a stale lock behind.
 */
import { PGlite } from "@electric-sql/pglite";
import { pgcrypto } from "@electric-sql/pglite/contrib/pgcrypto";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { join } from "node:path";

export class DataDirInUseError extends Error {
  constructor(readonly dir: string) {
    super(
      `The embedded database in ${dir} is already in use by another Hurukuro process. ` +
        `Stop that process first, or give this one its own DATA_DIR (or a DATABASE_URL).`,
    );
    this.name = "DataDirInUseError";
  }
}

export interface EmbeddedPostgres {
  pg: PGlite;
  stop(): Promise<void>;
}

/** Opens (creating on first use) the embedded database under `dir`. `dir: null` → in memory. */
export async function startEmbeddedPostgres(dir: string | null): Promise<EmbeddedPostgres> {
  let lock: Deno.FsFile | undefined;
  if (dir) {
    await Deno.mkdir(dir, { recursive: true });
    lock = await Deno.open(join(dir, "..", ".pg.lock"), { create: true, write: true });
    if (!(await lock.tryLock(true))) {
      lock.close();
      throw new DataDirInUseError(dir);
    }
  }
  try {
    const db = await PGlite.create({
      dataDir: dir ?? undefined,
      extensions: { pgcrypto, pg_trgm },
    });
    return {
      pg: db,
      async stop() {
        await db.close();
        lock?.close();
      },
    };
  } catch (error) {
    lock?.close();
    throw error;
  }
}
