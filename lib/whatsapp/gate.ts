/**
 * A small semaphore for the channel's background database work. On the embedded database every
 * query shares one session with the webhook's writes, in arrival order: with many reply and
 * send jobs each holding a query in that line, a webhook waits behind all of them. Background
 * work therefore runs its database steps through this gate (a few at a time) and steps outside
 * it while it waits on the network (the AI, the provider), so it never holds a slot idle.
 */
export class Gate {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    this.#free = limit;
  }

  enter(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  leave(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }

  /** Runs `fn` holding a slot. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.enter();
    try {
      return await fn();
    } finally {
      this.leave();
    }
  }

  /** From inside {@link run}: gives the slot up while `fn` waits on something slow. */
  async outside<T>(fn: () => Promise<T>): Promise<T> {
    this.leave();
    try {
      return await fn();
    } finally {
      await this.enter();
    }
  }
}
