/**
 * Reading a source tree's imports, for the tests that keep the layers apart
 * (architecture_test.ts, architecture_http_test.ts).
 */
import { join } from "node:path";
import { ROOT } from "./harness.ts";

/** The specifiers a module imports: static, re-exported, side-effect only, and dynamic. */
export function importsOf(source: string): string[] {
  const found: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\b[^;'"]*?\bfrom\s*["']([^"']+)["']/gm,
    /^\s*import\s*["']([^"']+)["']/gm,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const m of source.matchAll(pattern)) found.push(m[1]);
  }
  return found;
}

/** Every `.ts`/`.tsx` file below `dir`, by its path from the repository root. */
export async function* sourceFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(join(ROOT, dir))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* sourceFiles(path);
    else if (/\.tsx?$/.test(entry.name)) yield path;
  }
}
