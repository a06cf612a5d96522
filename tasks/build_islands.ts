/** `deno task build:islands`: rebuilds the browser bundles (start does this when needed). */
import { webConfig } from "../fresh.config.ts";
import { loadConfig } from "../lib/config.ts";
import { buildIslands } from "../lib/islands/build.ts";

const config = await loadConfig(Deno.env.toObject(), { persistSecrets: false });
const result = await buildIslands({ ...webConfig(config).islands, force: true });
console.log(`islands built in ${Math.round(result.ms)} ms`);
