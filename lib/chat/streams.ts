/**
 * Live answers on the web: each generation runs detached from the HTTP request that started it,
 * and its events (`start`, `delta`, `usage`, `done`, `error`, numbered from 1) go to
 *
 * - the readers attached in this process, at once, from memory (the relay path);
 * - PostgreSQL (answer_events.ts), written in batches: a reader that reconnects with
 *   `Last-Event-ID` to any instance gets what it missed without a second model call.
 *
 * When the last reader leaves, a grace period starts; a reader coming back within it cancels it,
 * otherwise the upstream call is aborted (and only what was generated is billed).
 */
import type { AnswerEventStore } from "./answer_events.ts";

/** The events of an answer's stream (also the CHECK of `answer_events.event`). */
export const STREAM_EVENT_NAMES = ["start", "delta", "usage", "done", "error"] as const;
export type StreamEventName = typeof STREAM_EVENT_NAMES[number];

export interface StreamEntry {
  id: number;
  event: StreamEventName;
  data: Record<string, unknown>;
}

/**
 * How long a finished generation whose events could not all be stored stays in memory, so a
 * reader reconnecting to this process still gets them. One whose events are all stored leaves
 * memory at once: kept for seconds, every finished answer would survive young-generation
 * collections and be copied by each of them (the cost of every request's collection pauses).
 */
const LINGER_MS = 30_000;

export const isTerminal = (e: StreamEntry) => e.event === "done" || e.event === "error";

export type Reader = (entry: StreamEntry) => void;

/** One answer being generated, and the readers following it. */
export class Generation {
  readonly entries: StreamEntry[] = [];
  #readers = new Set<Reader>();
  #grace?: ReturnType<typeof setTimeout>;
  #done = false;

  constructor(
    readonly messageId: string,
    readonly userId: string,
    /** Aborting it stops the upstream call. */
    readonly abort: AbortController,
    private readonly graceMs: number,
    /** Where every instance reads the events (null: this process's readers only). */
    private readonly store: AnswerEventStore | null,
  ) {
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
    this.store?.push(this.messageId, entry);
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

  /** Resolves when everything emitted so far was written: true when all of it is stored. */
  flushed(): Promise<boolean> {
    return this.store?.written(this.messageId) ?? Promise.resolve(false);
  }

  #armGrace(): void {
    if (this.#done || this.abort.signal.aborted) return;
    clearTimeout(this.#grace);
    this.#grace = setTimeout(async () => {
      if (this.#readers.size > 0 || this.#done) return;
      // A reader following from another instance keeps it going too.
      const followed = await this.store?.followedElsewhere(this.messageId).catch(() => false);
      if (this.#readers.size > 0 || this.#done) return;
      if (followed) this.#armGrace();
      else this.abort.abort("no reader");
    }, this.graceMs);
  }
}

/** The generations this process runs, by assistant message id. */
export class StreamRegistry {
  readonly live = new Map<string, Generation>();
  /** Each running answer's end (settled, billed, its last event emitted). */
  readonly #running = new Set<Promise<unknown>>();

  /**
   * Keeps `generation` until `finished` settles and its events are stored; reconnecting readers
   * then read the store (followStream). An answer counts as running until its events are
   * written, so a graceful shutdown leaves every ended answer readable on the other instances.
   */
  add(generation: Generation, finished: Promise<unknown>): void {
    this.live.set(generation.messageId, generation);
    const forget = () => this.live.delete(generation.messageId);
    const running = finished.catch(() => {}).then(() => generation.flushed()).then(
      (stored) => stored ? forget() : Deno.unrefTimer(setTimeout(forget, LINGER_MS)),
    ).finally(() => this.#running.delete(running));
    this.#running.add(running);
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
