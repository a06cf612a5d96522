/**
 * Live answers on the web: each generation runs detached from the HTTP request that started it,
 * and its events (`start`, `delta`, `usage`, `done`, `error`, numbered from 1) go to
 *
 * - the readers attached in this process, at once, from memory (the relay path);
 * - Deno KV, one key per event (`["chat_stream", messageId, n]`, kept {@link BUFFER_TTL_MS}),
 *   written in small batches: a reader that reconnects with `Last-Event-ID` — to this process
 *   or another sharing the KV store — gets what it missed without a second model call.
 *   One key per event keeps every value far below KV's 64 KiB limit whatever the answer's size.
 *
 * When the last reader leaves, a grace period starts; a reader coming back within it cancels it,
 * otherwise the upstream call is aborted (and only what was generated is billed).
 */

export type StreamEventName = "start" | "delta" | "usage" | "done" | "error";

export interface StreamEntry {
  id: number;
  event: StreamEventName;
  data: Record<string, unknown>;
}

export const BUFFER_TTL_MS = 5 * 60_000;
/**
 * How long a finished generation whose events could not all be written to KV stays in memory, so
 * a reader reconnecting to this process still gets them. One whose events are all in KV leaves
 * memory at once: kept for seconds, every finished answer would survive young-generation
 * collections and be copied by each of them (the cost of every request's collection pauses).
 */
const LINGER_MS = 30_000;
const FLUSH_MS = 20;
const MAX_BATCH = 200;

export const isTerminal = (e: StreamEntry) => e.event === "done" || e.event === "error";

const streamKey = (messageId: string, id: number): Deno.KvKey => ["chat_stream", messageId, id];

/** Writes entries to KV in order, batching what arrives within a few milliseconds. */
class KvBuffer {
  #pending: StreamEntry[] = [];
  #timer?: ReturnType<typeof setTimeout>;
  #chain: Promise<void> = Promise.resolve();
  #failed = false;

  constructor(
    private readonly kv: Deno.Kv,
    private readonly messageId: string,
    private readonly onError: (error: unknown) => void,
  ) {}

  push(entry: StreamEntry): void {
    this.#pending.push(entry);
    if (isTerminal(entry)) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** Resolves when everything pushed so far was written: true when all of it is in KV. */
  flush(): Promise<boolean> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length > 0) {
      this.#chain = this.#chain.then(async () => {
        for (let i = 0; i < batch.length; i += MAX_BATCH) {
          const op = this.kv.atomic();
          for (const e of batch.slice(i, i + MAX_BATCH)) {
            op.set(streamKey(this.messageId, e.id), { event: e.event, data: e.data }, {
              expireIn: BUFFER_TTL_MS,
            });
          }
          await op.commit();
        }
      }).catch((error) => {
        this.#failed = true;
        this.onError(error);
      });
    }
    return this.#chain.then(() => !this.#failed);
  }
}

/** Reads buffered events after `afterId`, in order. */
export async function readBuffered(
  kv: Deno.Kv,
  messageId: string,
  afterId: number,
): Promise<StreamEntry[]> {
  const out: StreamEntry[] = [];
  const iter = kv.list<{ event: StreamEventName; data: Record<string, unknown> }>({
    start: streamKey(messageId, afterId + 1),
    end: streamKey(messageId, Number.MAX_SAFE_INTEGER),
  });
  for await (const { key, value } of iter) {
    out.push({ id: key[2] as number, event: value.event, data: value.data });
  }
  return out;
}

export type Reader = (entry: StreamEntry) => void;

/** One answer being generated, and the readers following it. */
export class Generation {
  readonly entries: StreamEntry[] = [];
  #readers = new Set<Reader>();
  #grace?: ReturnType<typeof setTimeout>;
  #done = false;
  #buffer?: KvBuffer;

  constructor(
    readonly messageId: string,
    readonly userId: string,
    /** Aborting it stops the upstream call. */
    readonly abort: AbortController,
    private readonly graceMs: number,
    kv: Deno.Kv | null,
    onKvError: (error: unknown) => void,
  ) {
    if (kv) this.#buffer = new KvBuffer(kv, messageId, onKvError);
    this.#armGrace();
  }

  get finished(): boolean {
    return this.#done;
  }

  get readers(): number {
    return this.#readers.size;
  }

  emit(event: StreamEventName, data: Record<string, unknown>): void {
    if (this.#done) return;
    const entry = { id: this.entries.length + 1, event, data };
    this.entries.push(entry);
    this.#buffer?.push(entry);
    for (const reader of this.#readers) reader(entry);
    if (isTerminal(entry)) {
      this.#done = true;
      clearTimeout(this.#grace);
    }
  }

  /** Replays entries after `afterId`, then follows live ones. Returns the detach function. */
  attach(afterId: number, reader: Reader): () => void {
    clearTimeout(this.#grace);
    this.#grace = undefined;
    for (const entry of this.entries) if (entry.id > afterId) reader(entry);
    if (this.#done) return () => {};
    this.#readers.add(reader);
    return () => {
      if (this.#readers.delete(reader) && this.#readers.size === 0) this.#armGrace();
    };
  }

  /** Resolves when everything emitted so far was written: true when all of it is in KV. */
  flushed(): Promise<boolean> {
    return this.#buffer?.flush() ?? Promise.resolve(false);
  }

  #armGrace(): void {
    if (this.#done || this.abort.signal.aborted) return;
    clearTimeout(this.#grace);
    this.#grace = setTimeout(() => {
      if (this.#readers.size === 0 && !this.#done) this.abort.abort("no reader");
    }, this.graceMs);
  }
}

/** The generations this process runs, by assistant message id. */
export class StreamRegistry {
  readonly live = new Map<string, Generation>();
  /** Each running answer's end (settled, billed, its last event emitted). */
  readonly #running = new Set<Promise<unknown>>();

  /**
   * Keeps `generation` until `finished` settles and its events are in KV; reconnecting readers
   * then read KV (followStream), which holds them for {@link BUFFER_TTL_MS}.
   */
  add(generation: Generation, finished: Promise<unknown>): void {
    this.live.set(generation.messageId, generation);
    const running = finished.catch(() => {}).finally(() => this.#running.delete(running));
    this.#running.add(running);
    const forget = () => this.live.delete(generation.messageId);
    finished.finally(async () => {
      if (await generation.flushed()) return forget();
      Deno.unrefTimer(setTimeout(forget, LINGER_MS));
    });
  }

  get(messageId: string): Generation | undefined {
    return this.live.get(messageId);
  }

  /** Answers still generating. */
  get active(): number {
    let n = 0;
    for (const g of this.live.values()) if (!g.finished) n++;
    return n;
  }

  /**
   * Resolves once every answer running now (and any started meanwhile) has ended, or after
   * `timeoutMs`: true when none is left running. A graceful shutdown lets answers finish.
   */
  async settled(timeoutMs: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<false>((resolve) => timer = setTimeout(resolve, timeoutMs, false));
    try {
      while (this.#running.size > 0) {
        const ended = await Promise.race([Promise.all(this.#running).then(() => true), timeout]);
        if (!ended) return false;
      }
      return true;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops every running generation (shutdown). */
  abortAll(reason = "shutdown"): void {
    for (const g of this.live.values()) if (!g.finished) g.abort.abort(reason);
  }
}
