/**
 * What the fake chat APIs (Slack, Telegram) keep for tests and for a person poking at the
 * sandbox: the messages they accepted, every call with its answer, and the failures a test
 * queued for the next calls. Records keep the newest `maxRecords` (a sandbox may run for days).
 */
import { LoopbackFake } from "./loopback.ts";
import { Recorded } from "./recorded.ts";

export interface ChatFakeOptions<Message> {
  /** Oldest records are dropped beyond this many (default 10,000). */
  maxRecords?: number;
  port?: number;
  /** Called with each message accepted (the sandbox logs them). */
  onMessage?: (message: Message) => void;
}

export abstract class ChatFake<Message, Call, Failure> extends LoopbackFake {
  readonly #messages: Recorded<Message>;
  readonly #calls: Recorded<Call>;
  readonly #failures: Failure[] = [];
  readonly #onMessage?: (message: Message) => void;

  protected constructor(what: string, options: ChatFakeOptions<Message>) {
    super(options.port);
    this.#messages = new Recorded(`${what}: messages`, options.maxRecords);
    this.#calls = new Recorded(`${what}: calls`, options.maxRecords);
    this.#onMessage = options.onMessage;
  }

  /** The messages accepted, oldest first. */
  get messages(): readonly Message[] {
    return this.#messages.items;
  }

  /** Every call, failed or not, oldest first. */
  get calls(): readonly Call[] {
    return this.#calls.items;
  }

  /** The next `n` calls answer `failure` instead of doing their work. */
  failNext(n: number, failure: Failure): void {
    for (let i = 0; i < n; i++) this.#failures.push(failure);
  }

  /** Resolves once `count` messages (matching `match`) were accepted. */
  waitForMessages(
    count: number,
    options: { match?: (m: Message) => boolean; timeoutMs?: number } = {},
  ): Promise<Message[]> {
    return this.#messages.waitFor(count, options);
  }

  reset(): void {
    this.#messages.clear();
    this.#calls.clear();
    this.#failures.length = 0;
  }

  /** The failure queued for this call, if any. */
  protected nextFailure(): Failure | undefined {
    return this.#failures.shift();
  }

  protected recordCall(call: Call): void {
    this.#calls.push(call);
  }

  protected accept(message: Message): void {
    this.#messages.push(message);
    this.#onMessage?.(message);
  }
}
