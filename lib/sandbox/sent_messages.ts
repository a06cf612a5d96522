/**
 * The messages a fake WhatsApp provider (Graph API, Twilio) accepted for sending, kept for tests
 * and the sandbox: the newest `max`, listeners told of each, and a wait for a number of them (to
 * one user, in any notation) that says what did arrive when it gives up.
 */
export class SentMessages<M extends { to: string }> {
  readonly items: M[] = [];
  readonly #listeners = new Set<(message: M) => void>();

  /** `what` names the fake in a failed wait, which lists each message's `text`. */
  constructor(
    readonly what: string,
    readonly max: number,
    readonly text: (message: M) => string,
  ) {}

  push(message: M): void {
    this.items.push(message);
    if (this.items.length > this.max) this.items.shift();
    for (const listener of this.#listeners) {
      try {
        listener(message);
      } catch { /* a listener's bug is not the client's error */ }
    }
  }

  clear(): void {
    this.items.length = 0;
  }

  /** Called for every message recorded; returns an unsubscribe function. */
  onMessage(listener: (message: M) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Resolves with the messages (to `to`, if given) once there are at least `count`; rejects
   * after `timeoutMs` saying what did arrive.
   */
  waitFor(count: number, options: { to?: string; timeoutMs?: number } = {}): Promise<M[]> {
    const digits = (phone: string) => phone.replace(/\D/g, "");
    const matching = () =>
      options.to === undefined
        ? [...this.items]
        : this.items.filter((m) => digits(m.to) === digits(options.to!));
    const now = matching();
    if (now.length >= count) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        const got = matching();
        reject(
          new Error(
            `${this.what}: waited for ${count} message(s)${
              options.to ? ` to ${options.to}` : ""
            }, got ${got.length}: ${JSON.stringify(got.map((m) => this.text(m).slice(0, 60)))}`,
          ),
        );
      }, options.timeoutMs ?? 5_000);
      const unsubscribe = this.onMessage(() => {
        const got = matching();
        if (got.length >= count) {
          clearTimeout(timer);
          unsubscribe();
          resolve(got);
        }
      });
    });
  }
}
