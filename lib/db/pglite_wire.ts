/**
 * postgres.js connections to the embedded PGlite without a socket.
 *
 * PGlite is one Postgres session on this process's thread. `@electric-sql/pglite-socket` serves
 * it over TCP, passing each protocol message on as it arrives, so two connections' queries
 * interleave message by message (one's Bind replaces the other's unnamed portal: wrong rows, the
 * reason the pool had to be a single connection), and every query pays for loopback TCP twice.
 * This seam hands postgres.js socket-like objects (its `socket` option) that deliver whole
 * queries — the messages up to a Sync, a simple Query, or a startup — straight to PGlite:
 *
 * - several logical connections share the session safely, as a query's messages always run
 *   together, and a transaction, once open, runs its owner's queries only until it ends;
 * - connections with queries waiting take turns in order; a turn runs that connection's queued
 *   queries together in one call to PGlite (as a server reads a pipelined batch);
 * - between turns the event loop runs (a PGlite statement holds the thread while it runs).
 *
 * postgres.js's statement names carry a per-connection prefix, so prepared statements of different
 * connections never collide in the shared session.
 */
import { EventEmitter } from "node:events";
import { Buffer } from "node:buffer";
import { setImmediate } from "node:timers";
import type { PGlite } from "@electric-sql/pglite";

const PROTOCOL_3 = 196608;
const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;
const SYNC = 0x53; // 'S'
const QUERY = 0x51; // 'Q'
const TERMINATE = 0x58; // 'X'
const FLUSH = 0x48; // 'H'
/** A simple query that ends a transaction its connection left open. */
const ROLLBACK = (() => {
  const text = new TextEncoder().encode("ROLLBACK\0");
  const out = new Uint8Array(5 + text.length);
  out[0] = QUERY;
  new DataView(out.buffer).setInt32(1, 4 + text.length);
  out.set(text, 5);
  return out;
})();

/**
 * The socket postgres.js writes to and reads from (the subset of `net.Socket` it uses when given
 * a `socket` option: write, end, destroy, events `data`, `close`, `error`, `drain`).
 */
export class WireSocket extends EventEmitter {
  readyState: "open" | "closed" = "open";
  /** Bytes written and not yet cut into whole queries. */
  #pending: Uint8Array = new Uint8Array(0);
  /** Whole queries waiting for their turn. */
  readonly queued: Uint8Array[] = [];
  #started = false;

  constructor(readonly wire: PgliteWire) {
    super();
  }

  write(chunk: Uint8Array | string, callback?: (error?: Error | null) => void): boolean {
    if (this.readyState !== "open") {
      queueMicrotask(() => callback?.(new Error("the embedded database connection is closed")));
      return false;
    }
    const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
    this.#pending = this.#pending.length === 0 ? bytes : Buffer.concat([this.#pending, bytes]);
    this.#cut();
    queueMicrotask(() => callback?.(null));
    return true;
  }

  end(chunk?: Uint8Array | string): this {
    if (chunk) this.write(chunk);
    this.destroy();
    return this;
  }

  destroy(): this {
    if (this.readyState === "closed") return this;
    this.readyState = "closed";
    this.queued.length = 0;
    this.wire.closed(this);
    setImmediate(() => this.emit("close", false));
    return this;
  }

  // postgres.js pauses a socket only while streaming COPY, which is not used here.
  pause(): this {
    return this;
  }
  resume(): this {
    return this;
  }

  /** Cuts the written bytes into whole queries and queues them. */
  #cut(): void {
    let at = 0;
    let queryStart = 0;
    const buf = this.#pending;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    while (buf.length - at >= 5) {
      if (!this.#started) {
        // Untyped start-up messages: length, then a code.
        if (buf.length - at < 8) break;
        const length = view.getInt32(at);
        if (buf.length - at < length) break;
        const code = view.getInt32(at + 4);
        if (code === SSL_REQUEST) {
          this.#reply(new Uint8Array([0x4e])); // 'N': no TLS in-process
        } else if (code === CANCEL_REQUEST) {
          this.destroy(); // nothing to cancel in a session that runs one query at a time
          return;
        } else if (code === PROTOCOL_3) {
          this.#started = true;
          this.#queue(buf.subarray(at, at + length));
        } else {
          this.#fail(new Error(`unexpected start-up code ${code}`));
          return;
        }
        at += length;
        queryStart = at;
        continue;
      }
      const type = buf[at];
      const length = 1 + view.getInt32(at + 1);
      if (buf.length - at < length) break;
      at += length;
      if (type === TERMINATE) {
        this.destroy();
        return;
      }
      // A Flush asks for the answers so far in the middle of a query (postgres.js describes a
      // statement that way before binding it): a turn, after which this connection keeps the
      // session until its Sync.
      if (type === SYNC || type === QUERY || type === FLUSH) {
        this.#queue(buf.subarray(queryStart, at));
        queryStart = at;
      }
    }
    this.#pending = buf.slice(queryStart);
  }

  #queue(query: Uint8Array): void {
    // A copy: postgres.js may reuse the buffer it wrote.
    this.queued.push(query.slice());
    this.wire.wake();
  }

  #reply(bytes: Uint8Array): void {
    setImmediate(() => this.readyState === "open" && this.emit("data", Buffer.from(bytes)));
  }

  #fail(error: Error): void {
    setImmediate(() => this.emit("error", error));
    this.destroy();
  }

  /** Delivers PGlite's answer to postgres.js. */
  deliver(chunks: Uint8Array[]): void {
    if (this.readyState !== "open" || chunks.length === 0) return;
    // One chunk (the usual answer) is passed on as a view of the copy taken from PGlite, not
    // copied again: one array buffer fewer per query for the young-generation collections.
    const [first] = chunks;
    this.emit(
      "data",
      chunks.length === 1
        ? Buffer.from(first.buffer, first.byteOffset, first.byteLength)
        : Buffer.concat(chunks),
    );
  }
}

/** The dispatcher: one per PGlite. */
export class PgliteWire {
  readonly #sockets = new Set<WireSocket>();
  /**
   * The connection whose transaction (or query, between a Flush and its Sync) is open: only its
   * queries run until it ends.
   */
  #owner: WireSocket | null = null;
  #running = false;
  #closed = false;

  constructor(readonly pg: PGlite) {}

  /** Before PGlite closes: no turn runs after this, and connections are refused. */
  close(): void {
    this.#closed = true;
    for (const s of [...this.#sockets]) s.destroy();
  }

  /** A new connection for postgres.js (`socket: () => wire.connect()`). */
  connect(): WireSocket {
    const socket = new WireSocket(this);
    if (this.#closed) socket.destroy();
    else this.#sockets.add(socket);
    return socket;
  }

  wake(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    setImmediate(() => this.#turn());
  }

  closed(socket: WireSocket): void {
    this.#sockets.delete(socket);
    if (this.#owner === socket && !this.#closed) {
      // Its transaction can never be finished by it: undone, so the others may go on.
      this.#owner = null;
      this.pg.runExclusive(() => this.pg.execProtocolRawStream(ROLLBACK, { onRawData: () => {} }))
        .catch(() => {})
        .finally(() => this.wake());
    }
  }

  /**
   * The connection whose queries run next, or null when nothing may run now: the owner of an open
   * transaction, or else the first with queries waiting (a connection goes to the back of the
   * line once it had its turn, so each waits at most one turn per other connection).
   */
  #next(): WireSocket | null {
    if (this.#owner) return this.#owner.queued.length > 0 ? this.#owner : null;
    for (const s of this.#sockets) if (s.queued.length > 0) return s;
    return null;
  }

  async #turn(): Promise<void> {
    try {
      const socket = this.#closed ? null : this.#next();
      if (!socket) return;
      this.#sockets.delete(socket);
      this.#sockets.add(socket);
      // This connection's waiting queries, in order, as one batch.
      const batch = socket.queued.splice(0);
      const chunks = await execute(this.pg, batch.length === 1 ? batch[0] : Buffer.concat(batch));
      const last = batch[batch.length - 1];
      const open = this.pg.isInTransaction() || last[last.length - 5] === FLUSH;
      this.#owner = open && socket.readyState === "open" ? socket : null;
      socket.deliver(chunks);
    } catch (error) {
      // PGlite itself failed (not a query error: those are answers). Nothing can go on.
      for (const s of this.#sockets) {
        s.emit("error", error instanceof Error ? error : new Error(String(error)));
      }
    } finally {
      this.#running = false;
      if (this.#next()) this.wake();
    }
  }
}

/**
 * Runs protocol messages on PGlite and collects its answer (copied: PGlite reuses its buffer).
 * A plain function of its own, not inline in the async `#turn`: callbacks made there share that
 * call's context, which kept every turn's objects alive through young-generation collections
 * long after the turn ended (docs/postgres-js-promise-retention.md describes the pattern).
 */
function execute(pg: PGlite, message: Uint8Array): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  const onRawData = (data: Uint8Array) => void chunks.push(data.slice());
  return pg.runExclusive(() => pg.execProtocolRawStream(message, { onRawData }))
    .then(() => chunks);
}
