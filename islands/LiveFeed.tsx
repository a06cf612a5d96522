/**
 * The admin live feed: payments changing status, jobs dying and every conversation's messages,
 * newest first, the last `max` of them, as the server sees them (`/admin/api/feed`,
 * Server-Sent Events). EventSource reconnects by itself after a drop; the list keeps what it had.
 */
import { useEffect, useState } from "preact/hooks";
import type { FeedEvent } from "../lib/metrics/feed.ts";
import { createFormat } from "../lib/format.ts";

export interface LiveFeedProps {
  /** How many events stay on screen: older ones drop off the end. */
  max: number;
  /** The zone times are written in (TZ_METRICS), as on every admin page. */
  timeZone: string;
}

export default function LiveFeed({ max, timeZone }: LiveFeedProps) {
  const format = createFormat(timeZone);
  const [events, setEvents] = useState<FeedEvent[]>([]);
  const [state, setState] = useState<"connecting" | "live" | "offline">("connecting");

  useEffect(() => {
    const source = new EventSource("/admin/api/feed");
    source.addEventListener("ready", () => setState("live"));
    source.addEventListener("feed", (e) => {
      const event = JSON.parse((e as MessageEvent<string>).data) as FeedEvent;
      setEvents((list) =>
        [event, ...list.filter((x) => x.id !== event.id)]
          .sort((a, b) => b.at.localeCompare(a.at))
          .slice(0, max)
      );
    });
    source.onerror = () =>
      setState(source.readyState === EventSource.CLOSED ? "offline" : "connecting");
    source.onopen = () => setState("live");
    return () => source.close();
  }, []);

  return (
    <div class="feed" data-state={state} aria-live="polite">
      <p class="feed-state">
        {state === "live" ? "● Live" : state === "connecting" ? "Connecting…" : "Offline"}
      </p>
      <ol>
        {events.map((e) => (
          <li class={`feed-${e.level}`} data-feed-id={e.id}>
            <a href={e.href}>
              <time dateTime={e.at}>{format.dateTime(e.at)}</time> <strong>{e.title}</strong>
            </a>
            <br />
            <small>{e.detail}</small>
          </li>
        ))}
        {events.length === 0 && <li class="muted">Nothing yet.</li>}
      </ol>
    </div>
  );
}
