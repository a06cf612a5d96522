/**
 * Where uploaded training files are kept: a small interface (put, get, delete by key) that an
 * S3-compatible store could implement, and the one implementation used here, a directory on
 * disk (`UPLOADS_DIR`, default `DATA_DIR/uploads`).
 *
 * Keys are made here (`bots/<bot id>/<random>`), never taken from a file's name, so no name a
 * user picks can reach outside the directory.
 */
import { dirname, join, resolve } from "node:path";

export interface FileStore {
  /** A short label for logs and /health (`disk`, `s3`…). */
  readonly kind: string;
  /** Stores `bytes` under a new key made from `prefix`; returns the key. */
  put(prefix: string, bytes: Uint8Array): Promise<string>;
  /** The bytes under `key`; null when there is nothing. */
  get(key: string): Promise<Uint8Array | null>;
  /** Removes `key` (nothing there is not an error). */
  delete(key: string): Promise<void>;
}

const KEY = /^[a-z0-9-]+(\/[a-zA-Z0-9_-]+)+$/;

export class DiskFileStore implements FileStore {
  readonly kind = "disk";
  readonly #root: string;

  constructor(root: string) {
    this.#root = resolve(root);
  }

  #path(key: string): string {
    if (!KEY.test(key)) throw new Error(`not a storage key: ${key.slice(0, 80)}`);
    const path = resolve(join(this.#root, key));
    if (!path.startsWith(this.#root + "/")) throw new Error("storage key outside the root");
    return path;
  }

  async put(prefix: string, bytes: Uint8Array): Promise<string> {
    const key = `${prefix}/${crypto.randomUUID()}`;
    const path = this.#path(key);
    await Deno.mkdir(dirname(path), { recursive: true });
    // Written aside and renamed: a reader never sees half a file, a crash leaves none.
    const partial = `${path}.partial`;
    await Deno.writeFile(partial, bytes, { mode: 0o600 });
    await Deno.rename(partial, path);
    return key;
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      return await Deno.readFile(this.#path(key));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await Deno.remove(this.#path(key));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
}
