/**
 * Stop requests from any process. Behind a load balancer the stop button's request may land on
 * another process than the one generating the answer, and KV here is per process, so the request
 * is recorded where every process sees it: `messages.stop_requested_at` (stopAnswer in mod.ts).
 *
 * Each process watches the answers it generates: while it has any, one query every
 * {@link STOP_POLL_MS} asks which of them were asked to stop, and aborts those (billed like a
 * local stop: what was generated). With no live answer there is no timer and no query, so an
 * idle process costs the database nothing.
 */
import type { Sql } from "../db/mod.ts";

/** How often a process with live answers looks for stop requests: a stop lands within this. */
export const STOP_POLL_MS = 300;

export class StopWatch {
  #live = new Map<string, AbortController>();
  #timer?: ReturnType<typeof setTimeout>;
  /** A check's query is running: the next one is armed when it returns, never beside it. */
  #checking = false;

  constructor(
    private readonly sql: Sql,
    private readonly onError: (error: unknown) => void,
    private readonly intervalMs = STOP_POLL_MS,
  ) {}

  /** Watches an answer until the returned function is called (when it has finished). */
  watch(messageId: string, abort: AbortController): () => void {
    this.#live.set(messageId, abort);
    this.#arm();
    return () => {
      if (this.#live.get(messageId) === abort) this.#live.delete(messageId);
      if (this.#live.size === 0 && this.#timer !== undefined) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
      }
    };
  }

  /** Answers being watched. */
  get size(): number {
    return this.#live.size;
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#checking || this.#live.size === 0) return;
    this.#timer = setTimeout(() => this.#check(), this.intervalMs);
    // Never what keeps a stopping process alive: the answers themselves do that.
    Deno.unrefTimer(this.#timer as unknown as number);
  }

  async #check(): Promise<void> {
    this.#timer = undefined;
    this.#checking = true;
    const ids = [...this.#live.keys()];
    try {
      if (ids.length === 0) return;
      const rows = await this.sql`select id from messages
                                  where id in ${this.sql(ids)} and stop_requested_at is not null`;
      for (const row of rows) {
        const abort = this.#live.get(row.id);
        this.#live.delete(row.id);
        abort?.abort("stopped by the user");
      }
    } catch (error) {
      this.onError(error);
    } finally {
      this.#checking = false;
      this.#arm();
    }
  }
}
