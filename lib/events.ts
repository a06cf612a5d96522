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

export interface EventHub {
  subscribe(userId: string, onEvent: (e: UserEvent) => void): () => void;
  /** Streams open now (for /metrics and tests). */
  readonly size: number;
  close(): Promise<void>;
}

export async function startEventHub(db: Database, log: Logger): Promise<EventHub> {
  const subscribers = new Map<string, Set<(e: UserEvent) => void>>();
  let size = 0;
  const unlisten = await db.listen(EVENTS_CHANNEL, (payload) => {
    try {
      const event = JSON.parse(payload) as UserEvent;
      for (const fn of subscribers.get(event.userId) ?? []) fn(event);
    } catch (error) {
      log.error("malformed event dropped", { error });
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
    get size() {
      return size;
    },
    close: () => unlisten(),
  };
}
