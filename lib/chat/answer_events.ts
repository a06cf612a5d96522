/**
 * An answer's events where every instance reads them: the `answer_events` table, one row per event
 * keyed by (message id, sequence). A reader that reconnects with `Last-Event-ID` to an instance
 * that is not generating the answer reads the rest here and follows the live tail.
 *
 * Writing costs one statement per {@link FLUSH_MS} for all the answers this instance generates
 * (and one at each answer's end), not one per delta. After each write, one notification on
 * {@link ANSWER_EVENTS_CHANNEL} names the answers it wrote: on a real server every instance hears it
 * through the LISTEN connection the event hub (lib/events.ts) already holds; followers also poll,
 * so a lost notification (or the embedded database, one instance) only delays them.
 *
 * Rows are kept {@link KEEP_AFTER_END_MS} after an answer's last event, then pruned
 * (`chat.answer_events.cleanup`).
 */
import type { Database } from "../db/mod.ts";
import {
  isTerminal,
  STREAM_EVENT_NAMES,
  type StreamEntry,
  type StreamEventName,
} from "./streams.ts";

export const ANSWER_EVENTS_CHANNEL = "hurukuro_answer_events";
/** How long deltas wait to be written together. */
export const FLUSH_MS = 150;
/** How long an answer's events stay readable after its last one. */
export const KEEP_AFTER_END_MS = 10 * 60_000;
const MAX_SEQ = 2 ** 31 - 1;
/** How long a reader on another instance holds an answer past its grace period, and its renewal. */
export const FOLLOW_HOLD_MS = 10_000;
export const FOLLOW_RENEW_MS = 4_000;
/** Rows in one statement (a long burst is written in several). */
const MAX_ROWS = 500;
/** A notification's payload stays far below PostgreSQL's 8,000 bytes. */
const IDS_PER_NOTIFY = 100;

interface Pending {
  messageId: string;
  entry: StreamEntry;
}

export class AnswerEventStore {
  #pending: Pending[] = [];
  #timer?: ReturnType<typeof setTimeout>;
  #chain: Promise<void> = Promise.resolve();
  /** Answers some of whose events could not be written. */
  #failed = new Set<string>();
  #followers = new Map<string, Set<() => void>>();
  #listening?: Promise<() => Promise<void>>;

  constructor(
    private readonly db: Database,
    private readonly onError: (error: unknown) => void,
    private readonly flushMs = FLUSH_MS,
  ) {}

  /** Queues an event; an answer's last event is written at once (with whatever waits). */
  push(messageId: string, entry: StreamEntry): void {
    this.#pending.push({ messageId, entry });
    if (isTerminal(entry)) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.flushMs);
  }

  /** Resolves when everything queued so far was written (or failed). */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length > 0) this.#chain = this.#chain.then(() => this.#write(batch));
    return this.#chain;
  }

  /** Resolves when the answer's events queued so far were written: true when all of them are. */
  async written(messageId: string): Promise<boolean> {
    await this.flush();
    return !this.#failed.delete(messageId);
  }

  async #write(batch: Pending[]): Promise<void> {
    try {
      for (let i = 0; i < batch.length; i += MAX_ROWS) {
        const rows = batch.slice(i, i + MAX_ROWS);
        await this.db.sql`
          insert into answer_events (message_id, seq, event, data)
          select m, s, e, d::jsonb
          from unnest(${rows.map((r) => r.messageId)}::uuid[], ${
          rows.map((r) => r.entry.id)
        }::int[], ${rows.map((r) => r.entry.event)}::text[], ${
          rows.map((r) => JSON.stringify(r.entry.data))
        }::text[]) as v(m, s, e, d)
          on conflict do nothing`;
      }
    } catch (error) {
      for (const r of batch) this.#failed.add(r.messageId);
      return this.onError(error);
    }
    const ids = [...new Set(batch.map((r) => r.messageId))];
    try {
      for (let i = 0; i < ids.length; i += IDS_PER_NOTIFY) {
        await this.db.notify(ANSWER_EVENTS_CHANNEL, ids.slice(i, i + IDS_PER_NOTIFY).join(","));
      }
    } catch (error) {
      // The rows are written: followers find them at their next poll.
      this.onError(error);
    }
  }

  /** The answer's stored events after `afterId`, in order, up to the first missing one. */
  async read(messageId: string, afterId: number): Promise<StreamEntry[]> {
    if (afterId >= MAX_SEQ) return []; // past any stored sequence (an int4)
    const rows = await this.db.sql<{ seq: number; event: string; data: unknown }[]>`
      select seq, event, data from answer_events
      where message_id = ${messageId} and seq > ${afterId}
      order by seq limit 1000`;
    const out: StreamEntry[] = [];
    let next = afterId + 1;
    for (const row of rows) {
      if (row.seq !== next) break; // a gap: wait until it is written rather than skip it
      out.push(toEntry(row));
      next++;
    }
    return out;
  }

  /** The id of the answer's stored last event (`done` or `error`), null while none is stored. */
  async endSeq(messageId: string): Promise<number | null> {
    const [row] = await this.db.sql<{ seq: number }[]>`
      select seq from answer_events
      where message_id = ${messageId} and event in ('done', 'error')
      limit 1`;
    return row ? Number(row.seq) : null;
  }

  /**
   * Calls `onWrite` whenever events of `messageId` are written, by any instance. The first
   * follower starts listening; the listener is kept until {@link close}.
   */
  async watch(messageId: string, onWrite: () => void): Promise<() => void> {
    this.#listening ??= this.db.listen(ANSWER_EVENTS_CHANNEL, (payload) => {
      for (const id of payload.split(",")) for (const fn of this.#followers.get(id) ?? []) fn();
    });
    let set = this.#followers.get(messageId);
    if (!set) this.#followers.set(messageId, set = new Set());
    set.add(onWrite);
    try {
      await this.#listening;
    } catch (error) {
      // Followers still poll.
      this.#listening = undefined;
      this.onError(error);
    }
    return () => {
      set!.delete(onWrite);
      if (set!.size === 0 && this.#followers.get(messageId) === set) {
        this.#followers.delete(messageId);
      }
    };
  }

  /**
   * Says that a reader follows the answer from this instance, for {@link FOLLOW_HOLD_MS}: the
   * generating instance then keeps the answer going past its grace period. Renewed every
   * {@link FOLLOW_RENEW_MS} while the reader stays.
   */
  async markFollowed(messageId: string): Promise<void> {
    await this.db.sql`update messages
      set followed_until = now() + make_interval(secs => ${FOLLOW_HOLD_MS / 1000})
      where id = ${messageId} and status = 'streaming'`;
  }

  /** Whether a reader on another instance follows the answer now. */
  async followedElsewhere(messageId: string): Promise<boolean> {
    const [row] = await this.db.sql<{ followed: boolean }[]>`
      select coalesce(followed_until > now(), false) as followed from messages
      where id = ${messageId}`;
    return row?.followed ?? false;
  }

  /** Writes what waits and stops listening. */
  async close(): Promise<void> {
    await this.flush();
    const listening = this.#listening;
    this.#listening = undefined;
    if (listening) await (await listening.catch(() => null))?.();
  }
}

const EVENT_NAMES = new Set<string>(STREAM_EVENT_NAMES);

function toEntry(row: { seq: number; event: string; data: unknown }): StreamEntry {
  const data = typeof row.data === "string" ? JSON.parse(row.data) : row.data;
  return {
    id: Number(row.seq),
    event: (EVENT_NAMES.has(row.event) ? row.event : "error") as StreamEventName,
    data: data as Record<string, unknown>,
  };
}

/**
 * Deletes the events of answers whose last event is older than `keepMs` (their readers have long
 * reconnected or gone). Returns how many rows went.
 */
export async function pruneAnswerEvents(db: Database, keepMs = KEEP_AFTER_END_MS): Promise<number> {
  const result = await db.sql`
    delete from answer_events where message_id in (
      select message_id from answer_events
      group by message_id
      having max(created_at) < now() - make_interval(secs => ${keepMs / 1000}))`;
  return result.count;
}
