/**
 * The island build's manifest (written by lib/islands/build.ts): which URL serves each island
 * chunk and the browser entry. Loaded once by the server at start.
 */
export interface IslandManifest {
  /** URL of the browser entry (lib/islands/client.ts). */
  entry: string;
  /** Island name → URL of its chunk. */
  islands: Record<string, string>;
  /** Content hash of every source the build read: a change to any of them triggers a rebuild. */
  sourceHash: string;
}

let current: IslandManifest | undefined;

export function setIslandManifest(manifest: IslandManifest): void {
  current = manifest;
}

export function islandManifest(): IslandManifest {
  if (!current) throw new Error("the island manifest was not loaded (call buildIslands at start)");
  return current;
}
