/**
 * The upstream call of an answer, started before the preparation has written its rows, so the
 * model's time to first token overlaps our database work instead of following it.
 */
import type { Completion, StreamEvent } from "../ai/mod.ts";

/**
 * A whole answer (`complete`) as the events of a stream: its text as one delta, then its usage,
 * so that one answer path serves streamed and whole answers alike.
 */
export async function* wholeAnswerEvents(
  completion: Promise<Completion>,
): AsyncGenerator<StreamEvent, void, undefined> {
  const { text, usage, finishReason } = await completion;
  if (text) yield { type: "delta", text };
  yield { type: "usage", ...usage, finishReason };
}

/**
 * Pulls a stream from the moment it is made, buffering its events until they are read: the
 * upstream call runs while the preparation is still writing rows, so the model's time to first
 * token overlaps our database work instead of following it.
 */
export class EagerStream implements AsyncIterable<StreamEvent> {
  #events: StreamEvent[] = [];
  #done = false;
  #error: unknown;
  #wake: (() => void) | null = null;
  #ended!: () => void;
  /** Settles when the source has ended: read to its end, or failed. */
  readonly ended: Promise<void> = new Promise((resolve) => this.#ended = resolve);

  constructor(source: AsyncIterable<StreamEvent>) {
    this.#pump(source);
  }

  async #pump(source: AsyncIterable<StreamEvent>) {
    try {
      for await (const event of source) {
        this.#events.push(event);
        this.#wake?.();
      }
    } catch (error) {
      this.#error = error;
    } finally {
      this.#done = true;
      this.#wake?.();
      this.#ended();
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<StreamEvent> {
    for (;;) {
      const event = this.#events.shift();
      if (event) {
        yield event;
        continue;
      }
      if (this.#done) {
        if (this.#error !== undefined) throw this.#error;
        return;
      }
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = null;
    }
  }
}

/**
 * Starts an upstream call at once (an {@link EagerStream}); `left` settles once its request has
 * left: handed to the network (the provider's `onRequestSent`), then one timer turn, before which
 * Deno's `fetch` writes it (its I/O runs once the current microtasks are done). The preparation's
 * database work waits for it, so it does not compete with the request for the CPU, which matters
 * when the model server shares the machine (a self-hosted one). `left` also settles when the call ends without sending a request.
 */
export function startUpstreamCall(
  open: (onRequestSent: () => void) => AsyncIterable<StreamEvent>,
): { stream: EagerStream; left: Promise<void> } {
  let handedOver!: () => void;
  const sent = new Promise<void>((resolve) => handedOver = resolve);
  const stream = new EagerStream(open(() => handedOver()));
  const left = Promise.race([sent, stream.ended])
    .then(() => new Promise<void>((resolve) => setTimeout(resolve, 0)));
  return { stream, left };
}
