import assert from "node:assert/strict";
import { join } from "node:path";
import { denoEval } from "../../tests/deno_eval.ts";

const BUILD = new URL("./build.ts", import.meta.url).href;
const MANIFEST = new URL("./manifest.ts", import.meta.url).href;
const ISLANDS = new URL("../../islands", import.meta.url).pathname;

/**
 * One start's `buildIslands` in a process of its own, as each instance of a deployment (or each
 * test server) runs it; resolves to the URLs its pages link to.
 */
async function buildInProcess(outDir: string, minify: boolean): Promise<string[]> {
  const options = { islandsDir: ISLANDS, outDir, publicPath: "/b/", minify };
  const code = `
    import { buildIslands } from ${JSON.stringify(BUILD)};
    import { islandManifest } from ${JSON.stringify(MANIFEST)};
    await buildIslands(${JSON.stringify(options)});
    const { entry, islands } = islandManifest();
    console.log(JSON.stringify([entry, ...Object.values(islands)]));`;
  const result = await denoEval(code);
  assert.equal(result.code, 0, `the build failed: ${result.stderr.slice(-2_000)}`);
  const urls: string[] = JSON.parse(result.stdout);
  assert.ok(urls.length > 1, "the entry and the islands");
  return urls;
}

/** Every file behind `urls` is in `outDir`. */
async function assertServed(outDir: string, urls: string[]) {
  for (const url of urls) {
    assert.ok(url.startsWith("/b/"), url);
    const info = await Deno.stat(join(outDir, url.slice("/b/".length))).catch(() => null);
    assert.ok(info?.isFile, `${url} is gone`);
  }
}

async function withOutDir(fn: (outDir: string) => Promise<void>) {
  const outDir = await Deno.makeTempDir({ prefix: "hurukuro-islands-" });
  try {
    await fn(outDir);
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
}

Deno.test("a build in the other mode (minified or not) leaves the files a running server links to", async () => {
  await withOutDir(async (outDir) => {
    const plain = await buildInProcess(outDir, false);
    const minified = await buildInProcess(outDir, true);
    await assertServed(outDir, plain);
    await assertServed(outDir, minified);
    assert.deepEqual(await buildInProcess(outDir, false), plain, "nothing changed: the same build");
  });
});

Deno.test("instances of one checkout starting together each get a whole build", async () => {
  await withOutDir(async (outDir) => {
    // Staggered, so that some start while another is half way through writing its files.
    const builds = await Promise.all([0, 1, 2, 3, 4].map(async (i) => {
      await new Promise((r) => setTimeout(r, i * 150));
      return await buildInProcess(outDir, i % 2 === 1);
    }));
    for (const urls of builds) await assertServed(outDir, urls);
  });
});
