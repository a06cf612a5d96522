/**
 * Deno KV: the delivery mechanism for background work and a home for short-lived state
 * (rate-limit windows, resumable stream chunks). Nothing here is the only copy of anything
 * durable: Postgres is the record (see docs/jobs.md).
 */
import { dirname } from "node:path";

export async function openKv(path: string | null): Promise<Deno.Kv> {
  if (path === null) return await Deno.openKv(":memory:");
  await Deno.mkdir(dirname(path), { recursive: true });
  return await Deno.openKv(path);
}

/** `true` when KV answers a read. */
export async function pingKv(kv: Deno.Kv): Promise<boolean> {
  try {
    await kv.get(["health"]);
    return true;
  } catch {
    return false;
  }
}
