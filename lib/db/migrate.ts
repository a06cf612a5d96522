/**
 * Forward-only migrations: ordered `NNNN_name.sql` files in `migrations/`, applied in one
 * transaction under an advisory lock (so two instances starting together cannot both apply them),
 * recorded with a checksum in `schema_migrations`. Editing a migration that was already applied is
 * an error: write a new one instead.
 *
 * A runner of our own rather than `postgres-shift`/`ley`: those take no lock between runners and
 * do not detect edited files, and the whole job is the sixty lines below.
 */
import { join } from "node:path";
import type { Sql } from "./mod.ts";

export const MIGRATIONS_DIR = new URL("../../migrations/", import.meta.url).pathname;

export class MigrationError extends Error {
  override name = "MigrationError";
}

export interface Migration {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".sql")) continue;
    if (!/^\d{4}_[a-z0-9_]+\.sql$/.test(entry.name)) {
      throw new MigrationError(`${entry.name}: migration files are named NNNN_words.sql`);
    }
    files.push(entry.name);
  }
  files.sort();
  return await Promise.all(files.map(async (file) => {
    const sql = await Deno.readTextFile(join(dir, file));
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(sql));
    return {
      version: file.slice(0, 4),
      name: file.slice(5, -4),
      sql,
      checksum: Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join(""),
    };
  }));
}

/** Applies every pending migration; returns the versions it applied (empty when up to date). */
export async function migrate(sql: Sql, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = await readMigrations(dir);
  const seen = new Set<string>();
  for (const m of migrations) {
    if (seen.has(m.version)) throw new MigrationError(`two migrations share version ${m.version}`);
    seen.add(m.version);
  }
  await sql`create table if not exists schema_migrations (
    version text primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
  )`;
  return await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext('hurukuro:migrations'))`;
    const applied = new Map<string, { name: string; checksum: string }>();
    for (const row of await tx`select version, name, checksum from schema_migrations`) {
      applied.set(row.version, { name: row.name, checksum: row.checksum });
    }
    const done: string[] = [];
    for (const m of migrations) {
      const previous = applied.get(m.version);
      if (previous) {
        if (previous.checksum !== m.checksum) {
          throw new MigrationError(
            `migration ${m.version}_${m.name}.sql was changed after it was applied; ` +
              `restore it and put the change in a new migration`,
          );
        }
        continue;
      }
      try {
        await tx.unsafe(m.sql);
      } catch (error) {
        throw new MigrationError(`${m.version}_${m.name}.sql failed: ${(error as Error).message}`);
      }
      await tx`insert into schema_migrations (version, name, checksum)
               values (${m.version}, ${m.name}, ${m.checksum})`;
      done.push(m.version);
    }
    return done;
  });
}
