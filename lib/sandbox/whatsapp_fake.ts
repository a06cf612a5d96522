/**
 * What the fake WhatsApp providers (Graph API, Twilio) keep of the messages they were asked to
 * send, for tests and the sandbox: the newest `maxRecords`, listeners told of each, and a wait
 * for a number of them (to one user, in any notation) that says what did arrive when it gives up.
 */
import { LoopbackFake } from "./loopback.ts";

export abstract class WhatsAppFake<Message extends { to: string }> extends LoopbackFake {
  readonly #sent: Message[] = [];
  readonly #listeners = new Set<(message: Message) => void>();
  readonly #what: string;
  readonly #text: (message: Message) => string;
  readonly #maxRecords: number;

  /** `what` names the fake in a failed wait, which lists each message's `text`. */
  protected constructor(
    what: string,
    text: (message: Message) => string,
    options: { port?: number; maxRecords?: number },
  ) {
    super(options.port);
    this.#what = what;
    this.#text = text;
    this.#maxRecords = options.maxRecords ?? 10_000;
  }

  /** Messages sent so far, oldest first. */
  get messages(): readonly Message[] {
    return this.#sent;
  }

  /** Called for every recorded message; returns an unsubscribe function. */
  onMessage(listener: (message: Message) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Resolves with the recorded messages (to `to`, if given, in any notation) once there are at
   * least `count`; rejects after `timeoutMs` saying what did arrive.
   */
  waitForMessages(
    count: number,
    options: { to?: string; timeoutMs?: number } = {},
  ): Promise<Message[]> {
    const digits = (phone: string) => phone.replace(/\D/g, "");
    const matching = () =>
      options.to === undefined
        ? [...this.#sent]
        : this.#sent.filter((m) => digits(m.to) === digits(options.to!));
    const now = matching();
    if (now.length >= count) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        const got = matching();
        reject(
          new Error(
            `${this.#what}: waited for ${count} message(s)${
              options.to ? ` to ${options.to}` : ""
            }, got ${got.length}: ${JSON.stringify(got.map((m) => this.#text(m).slice(0, 60)))}`,
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

  reset(): void {
    this.#sent.length = 0;
  }

  /** Keeps a message the fake accepted and tells the listeners. */
  protected recordSent(message: Message): void {
    this.#sent.push(message);
    if (this.#sent.length > this.#maxRecords) this.#sent.shift();
    for (const listener of this.#listeners) {
      try {
        listener(message);
      } catch { /* a listener's bug is not the client's error */ }
    }
  }
}
