/**
 * The web layer's settings in one typed object: the role `fresh.config.ts` plays in a Fresh app.
 * Fresh itself cannot be installed here (its registry is unreachable); Hono serves the routes
 * and lib/islands/ is the island seam (docs/architecture.md).
 */
import type { Config } from "./lib/config.ts";
import type { IslandBuildOptions } from "./lib/islands/build.ts";

export interface WebConfig {
  hostname: string;
  port: number;
  islands: IslandBuildOptions;
  /** Largest request body accepted anywhere, in bytes (routes may set a lower limit). */
  bodyLimit: number;
  /** How long a graceful shutdown waits for in-flight requests and jobs. */
  shutdownGraceMs: number;
}

const root = new URL("./", import.meta.url).pathname;

export function webConfig(config: Config): WebConfig {
  return {
    hostname: config.host,
    port: config.port,
    islands: {
      islandsDir: root + "islands",
      outDir: root + "static/build",
      publicPath: "/static/build/",
      minify: config.env === "production",
    },
    bodyLimit: 4 * 1024 * 1024,
    shutdownGraceMs: 10_000,
  };
}
