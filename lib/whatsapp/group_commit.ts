/**
 * A group commit: work submitted while a write is in flight is written together in the next one,
 * so concurrent requests share one statement (and one round trip) instead of each waiting for
 * its own.
 */

/**
 * Writes batches of webhook work in one statement each. Requests that arrive while batches are
 * being written wait for the next one, so batching adds no delay when traffic is light. Up to
 * `concurrency` batches are written at once: a database server runs them side by side on its
 * own connections (the embedded database runs one statement at a time, so there it is 1).
 */
export class GroupCommit<T, R> {
  #queue: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  #writing = 0;
  #scheduled = false;
  #idle: Promise<void> = Promise.resolve();
  #markIdle: () => void = () => {};

  constructor(
    readonly flush: (items: T[]) => Promise<R[]>,
    readonly options: { max?: number; concurrency?: number } = {},
  ) {}

  /** Resolves once nothing is queued or being written. */
  idle(): Promise<void> {
    return this.#idle;
  }

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (this.#queue.length === 0 && this.#writing === 0 && !this.#scheduled) {
        this.#idle = new Promise((done) => this.#markIdle = done);
      }
      this.#queue.push({ item, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // Let requests handled in this same tick join the batch.
        queueMicrotask(() => {
          this.#scheduled = false;
          this.#write();
        });
      }
    });
  }

  /**
   * Writes a batch; if that fails, writes its items again one at a time, so that an item the
   * database refuses fails alone and never takes the others of its batch with it.
   */
  async #settle(
    batch: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[],
  ): Promise<void> {
    try {
      const results = await this.flush(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(results[i]));
      return;
    } catch (error) {
      if (batch.length === 1) return batch[0].reject(error);
    }
    for (const b of batch) {
      try {
        b.resolve((await this.flush([b.item]))[0]);
      } catch (error) {
        b.reject(error);
      }
    }
  }

  #write(): void {
    const concurrency = this.options.concurrency ?? 1;
    while (this.#queue.length > 0 && this.#writing < concurrency) {
      const batch = this.#queue.splice(0, this.options.max ?? 256);
      this.#writing++;
      this.#settle(batch)
        .finally(() => {
          this.#writing--;
          this.#write();
          if (this.#writing === 0 && this.#queue.length === 0 && !this.#scheduled) {
            this.#markIdle();
          }
        });
    }
  }
}
