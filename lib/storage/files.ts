/**
 * Where uploaded files live (grievance attachments, training files): a small interface over a
 * key → bytes store, so the local disk can later give way to an object store by configuration.
 * The local implementation keeps each file under `UPLOADS_DIR` (default `DATA_DIR/uploads`).
 *
 * Keys are relative paths chosen by our code (`<grievance id>/<attachment id>.jpg`), never by a
 * user: a key that could leave the root (`..`, absolute, odd characters) is refused. Writes go to
 * a temporary name and are renamed into place, so a reader never sees half a file; files are
 * readable by their owner only (0600).
 *
 * @example
 * const files = localFileStore(config.uploadsDir);
 * await files.put("6f1…/a1b….jpg", bytes);
 * const bytes = await files.get("6f1…/a1b….jpg"); // null when absent
 */
import { dirname, join } from "node:path";

export interface FileStore {
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** The bytes, or null when there is no such file. */
  get(key: string): Promise<Uint8Array | null>;
  /** Removes a file (absent: nothing to do). */
  delete(key: string): Promise<void>;
  /** Removes every file whose key starts with `prefix/`. */
  deleteFolder(prefix: string): Promise<void>;
}

const KEY = /^[A-Za-z0-9][A-Za-z0-9_-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)*$/;

/** Refuses a key that is not a plain relative path of our own making. */
export function checkKey(key: string): string {
  if (!KEY.test(key) || key.length > 300 || key.split("/").some((p) => p === "..")) {
    throw new Error(`not a storage key: ${JSON.stringify(key.slice(0, 80))}`);
  }
  return key;
}

export function localFileStore(root: string): FileStore {
  const pathOf = (key: string) => join(root, checkKey(key));
  return {
    async put(key, bytes) {
      const path = pathOf(key);
      await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const temp = `${path}.${crypto.randomUUID()}.part`;
      try {
        await Deno.writeFile(temp, bytes, { mode: 0o600 });
        await Deno.rename(temp, path);
      } catch (error) {
        await Deno.remove(temp).catch(() => {});
        throw error;
      }
    },
    async get(key) {
      try {
        return await Deno.readFile(pathOf(key));
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return null;
        throw error;
      }
    },
    async delete(key) {
      await Deno.remove(pathOf(key)).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    },
    async deleteFolder(prefix) {
      await Deno.remove(pathOf(prefix), { recursive: true }).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    },
  };
}
