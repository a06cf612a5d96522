/**
 * Live events for signed-in users (`payment.updated`, `wallet.updated`, ...), delivered over
 * `GET /api/v1/events` (SSE). Published through the database's notifications (LISTEN/NOTIFY on
 * a real server, so every instance hears them; an in-process bus on the embedded database), and
 * fanned out in memory to the streams each instance holds open.
 */
import type { Database } from "./db/mod.ts";
import type { Logger } from "./observability/log.ts";

export const EVENTS_CHANNEL = "hurukuro_events";

export interface UserEvent {
  userId: string;
  type: string;
  data: Record<string, unknown>;
}

export async function publish(db: Database, event: UserEvent): Promise<void> {
  await db.notify(EVENTS_CHANNEL, JSON.stringify(event));
}

/**
 * An event about the product rather than one user's screen (a job dead-lettered, a sign-up):
 * heard by the domains that react to the product (notifications), never sent to a browser.
 */
export interface ProductEvent {
  type: string;
  data: Record<string, unknown>;
}

/** Publishes a product event; like user events it is heard once by every instance. */
export async function publishProductEvent(db: Database, event: ProductEvent): Promise<void> {
  await db.notify(EVENTS_CHANNEL, JSON.stringify({ ...event, userId: null }));
}

/** What an observer hears: every event, a user's (with `userId`) or the product's (`null`). */
export type HubEvent = ProductEvent & { userId: string | null };

/** Publishes several events, user or product (`userId: null`), in order and in one go. */
export async function publishAll(db: Database, events: HubEvent[]): Promise<void> {
  await db.notify(EVENTS_CHANNEL, ...events.map((event) => JSON.stringify(event)));
}

export interface EventHub {
  subscribe(userId: string, onEvent: (e: UserEvent) => void): () => void;
  /** Every event, for domains that react to what happens in the product (notifications). */
  observe(onEvent: (e: HubEvent) => void): () => void;
  /** Streams open now (for /metrics and tests). */
  readonly size: number;
  close(): Promise<void>;
}

export async function startEventHub(db: Database, log: Logger): Promise<EventHub> {
  const subscribers = new Map<string, Set<(e: UserEvent) => void>>();
  const observers = new Set<(e: HubEvent) => void>();
  let size = 0;
  const unlisten = await db.listen(EVENTS_CHANNEL, (payload) => {
    try {
      const event = JSON.parse(payload) as HubEvent;
      if (event.userId !== null) {
        for (const fn of subscribers.get(event.userId) ?? []) fn(event as UserEvent);
      }
    } catch (error) {
      return log.error("malformed event dropped", { error });
    }
    for (const fn of observers) {
      try {
        fn(JSON.parse(payload));
      } catch (error) {
        log.error("event observer failed", { error });
      }
    }
  });
  return {
    subscribe(userId, onEvent) {
      let set = subscribers.get(userId);
      if (!set) subscribers.set(userId, set = new Set());
      set.add(onEvent);
      size++;
      return () => {
        if (set!.delete(onEvent)) size--;
        if (set!.size === 0) subscribers.delete(userId);
      };
    },
    observe(onEvent) {
      observers.add(onEvent);
      return () => void observers.delete(onEvent);
    },
    get size() {
      return size;
    },
    close: () => unlisten(),
  };
}
