/**
 * The loopback HTTP server under a fake upstream: a real port on 127.0.0.1 (a free one unless
 * `port` is given), so a client speaks to the fake exactly as it would to the real service. A
 * fake extends it with `handle`; `close()`, or `await using`, stops it.
 *
 * @example
 * class FakeThing extends LoopbackFake {
 *   protected handle(request: Request) { return Promise.resolve(Response.json({ ok: true })); }
 * }
 */
export abstract class LoopbackFake implements AsyncDisposable {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  protected constructor(port = 0) {
    // Requests reach `handle` once the subclass's constructor has run (they come in later ticks).
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port, onListen: () => {} },
      (request) => this.handle(request),
    );
  }

  /** Answers one request as the upstream would. */
  protected abstract handle(request: Request): Promise<Response>;

  /** The base URL to configure the client with: `http://127.0.0.1:<port>`. */
  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  async close(): Promise<void> {
    await this.#server.shutdown();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
