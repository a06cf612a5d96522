/**
 * What a fake received, kept for tests and for a person poking at the sandbox: the newest
 * `max` items (a sandbox may run for days), and a wait for a number of them to arrive.
 */
export class Recorded<T> {
  readonly items: T[] = [];
  readonly #waiters = new Set<() => void>();

  constructor(readonly what: string, readonly max = 10_000) {}

  push(item: T): void {
    this.items.push(item);
    if (this.items.length > this.max) this.items.shift();
    for (const wake of this.#waiters) wake();
  }

  clear(): void {
    this.items.length = 0;
  }

  /** Resolves once `count` items (matching `match`) are here; rejects after `timeoutMs`. */
  waitFor(
    count: number,
    options: { match?: (item: T) => boolean; timeoutMs?: number } = {},
  ): Promise<T[]> {
    const matching = () => this.items.filter(options.match ?? (() => true));
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = matching();
        if (found.length < count) return;
        done();
        resolve(found);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.what}: ${matching().length} of ${count} arrived`));
      }, options.timeoutMs ?? 10_000);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }
}
