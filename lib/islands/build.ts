/**
 * The island build: npm `esbuild` bundles the browser entry and one chunk per island, split so
 * that a dependency (chart.js) lands only in the chunks of islands that import it. Run at start;
 * skipped when no source changed since the last build (a content hash kept in the manifest).
 *
 * The client is compiled with the automatic `react-jsx` transform: a `precompile` JSX setting
 * would turn island markup into static strings and lose event handlers.
 */
import * as esbuild from "esbuild";
import { join, relative, resolve } from "node:path";
import { type IslandManifest, setIslandManifest } from "./manifest.ts";

export interface IslandBuildOptions {
  /** Folder of island components (`islands/`). */
  islandsDir: string;
  /** Where bundles are written; served under `publicPath`. */
  outDir: string;
  publicPath: string;
  minify: boolean;
  /** Rebuild even if nothing changed. */
  force?: boolean;
}

const CLIENT_ENTRY = new URL("./client.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
const MANIFEST = "manifest.json";

async function listIslands(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && /^[A-Z]\w*\.tsx$/.test(e.name)) files.push(resolve(dir, e.name));
  }
  return files.sort();
}

/** SHA-256 over the given files' paths and contents plus the lock file and build options. */
async function hashSources(files: string[], options: IslandBuildOptions): Promise<string> {
  const parts: string[] = [
    JSON.stringify({ minify: options.minify, publicPath: options.publicPath }),
  ];
  for (const file of [...new Set(files)].sort()) {
    try {
      parts.push(file, await Deno.readTextFile(file));
    } catch {
      parts.push(file, "<missing>");
    }
  }
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\0")));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function readManifest(
  outDir: string,
): Promise<(IslandManifest & { inputs: string[] }) | null> {
  try {
    return JSON.parse(await Deno.readTextFile(join(outDir, MANIFEST)));
  } catch {
    return null;
  }
}

/**
 * Builds the islands when their sources changed and registers the manifest for the renderer.
 * Returns whether a build ran.
 */
export async function buildIslands(
  shared: IslandBuildOptions,
): Promise<{ built: boolean; ms: number }> {
  // Instances of one checkout (and test servers) share the folder: each mode builds into a
  // subfolder of its own, one build at a time, so no start removes files another server links to.
  const mode = shared.minify ? "minified" : "plain";
  const options = {
    ...shared,
    outDir: join(shared.outDir, mode),
    publicPath: `${shared.publicPath}${mode}/`,
  };
  await Deno.mkdir(shared.outDir, { recursive: true });
  using lock = await Deno.open(join(shared.outDir, ".lock"), { create: true, write: true });
  await lock.lock(true);
  return await buildLocked(options);
}

async function buildLocked(options: IslandBuildOptions): Promise<{ built: boolean; ms: number }> {
  const started = performance.now();
  const islands = await listIslands(options.islandsDir);
  const lockFile = join(ROOT, "deno.lock");
  const previous = await readManifest(options.outDir);
  if (previous && !options.force) {
    const hash = await hashSources(
      [...previous.inputs, ...islands, CLIENT_ENTRY, lockFile],
      options,
    );
    if (hash === previous.sourceHash) {
      setIslandManifest(previous);
      return { built: false, ms: performance.now() - started };
    }
  }

  await Deno.remove(options.outDir, { recursive: true }).catch(() => {});
  const result = await esbuild.build({
    entryPoints: [CLIENT_ENTRY, ...islands],
    outdir: options.outDir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    jsx: "automatic",
    jsxImportSource: "preact",
    minify: options.minify,
    sourcemap: options.minify ? false : "linked",
    entryNames: "[name]-[hash]",
    chunkNames: "chunks/[name]-[hash]",
    metafile: true,
    absWorkingDir: ROOT,
    logLevel: "silent",
  }).finally(() => esbuild.stop());

  const manifest: IslandManifest & { inputs: string[] } = {
    entry: "",
    islands: {},
    sourceHash: "",
    inputs: [],
  };
  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    if (!meta.entryPoint) continue;
    const url = options.publicPath + relative(options.outDir, resolve(ROOT, out));
    const entry = resolve(ROOT, meta.entryPoint);
    if (entry === CLIENT_ENTRY) manifest.entry = url;
    else manifest.islands[entry.split("/").pop()!.replace(/\.tsx$/, "")] = url;
  }
  manifest.inputs = Object.keys(result.metafile.inputs)
    .filter((p) => !p.includes("node_modules"))
    .map((p) => resolve(ROOT, p));
  manifest.sourceHash = await hashSources(
    [...manifest.inputs, ...islands, CLIENT_ENTRY, lockFile],
    options,
  );
  await Deno.writeTextFile(join(options.outDir, MANIFEST), JSON.stringify(manifest, null, 2));
  setIslandManifest(manifest);
  return { built: true, ms: performance.now() - started };
}
