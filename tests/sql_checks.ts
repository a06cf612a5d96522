/**
 * The value lists of the migrations' CHECK constraints, for the tests that compare them with the
 * vocabularies written once in code (lib/<domain>/model_test.ts and the like).
 */
import assert from "node:assert/strict";

/** The single-quoted values in `text`, in order. */
export const quoted = (text: string): string[] => [...text.matchAll(/'([^']+)'/g)].map((x) => x[1]);

/**
 * Reads `migrations/<file>` and answers a reader of its lists: the quoted values in the first
 * capture of `anchor`, failing the test when the migration has no such text.
 */
export async function migrationChecks(file: string): Promise<(anchor: RegExp) => string[]> {
  const migration = await Deno.readTextFile(new URL(`../migrations/${file}`, import.meta.url));
  return (anchor) => {
    const m = migration.match(anchor);
    assert.ok(m, `no ${anchor} in ${file}`);
    return quoted(m[1]);
  };
}
