import assert from "node:assert/strict";
import { join } from "node:path";
import { freshDatabase } from "../../tests/harness.ts";
import { migrate, MigrationError, MIGRATIONS_DIR, readMigrations } from "./migrate.ts";

async function migrationsDir(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir();
  for (const [name, sql] of Object.entries(files)) await Deno.writeTextFile(join(dir, name), sql);
  return dir;
}

Deno.test("migrations apply once, in order, and a second run changes nothing", async () => {
  const { db, close } = await freshDatabase();
  try {
    const dir = await migrationsDir({
      "0002_second.sql": "alter table widgets add column colour text;",
      "0001_first.sql": "create table widgets (id int primary key);",
    });
    assert.deepEqual(await migrate(db.sql, dir), ["0001", "0002"]);
    assert.deepEqual(await migrate(db.sql, dir), []);
    const cols = await db.sql`select column_name from information_schema.columns
                              where table_name = 'widgets' order by ordinal_position`;
    assert.deepEqual(cols.map((c) => c.column_name), ["id", "colour"]);
  } finally {
    await close();
  }
});

Deno.test("an applied migration that was edited is refused; a failing one applies nothing", async () => {
  const { db, close } = await freshDatabase();
  try {
    const dir = await migrationsDir({ "0001_first.sql": "create table widgets (id int);" });
    await migrate(db.sql, dir);
    await Deno.writeTextFile(join(dir, "0001_first.sql"), "create table widgets (id bigint);");
    await assert.rejects(
      migrate(db.sql, dir),
      (e) => e instanceof MigrationError && /changed/.test(e.message),
    );

    const bad = await migrationsDir({
      "0001_ok.sql": "create table gadgets (id int);",
      "0002_broken.sql": "create tabel nonsense;",
    });
    const fresh = await freshDatabase();
    try {
      await assert.rejects(migrate(fresh.db.sql, bad), /0002_broken\.sql failed/);
      const [{ n }] = await fresh.db.sql`select count(*)::int as n from information_schema.tables
                                          where table_name = 'gadgets'`;
      assert.equal(n, 0, "the whole run is one transaction");
    } finally {
      await fresh.close();
    }
  } finally {
    await close();
  }
});

Deno.test("the project's migrations are well named and apply on this back end", async () => {
  const migrations = await readMigrations(MIGRATIONS_DIR);
  const { db, close } = await freshDatabase();
  try {
    assert.equal((await migrate(db.sql)).length, migrations.length);
    assert.deepEqual(await migrate(db.sql), []);
  } finally {
    await close();
  }
});
