/**
 * A bot's training sources with their state, live: the owner's event stream
 * (`GET /api/v1/events`, `bot.source.updated`) says when one moves, and the list is read again
 * (`GET /api/v1/bots/{id}/sources`), so "waiting: 3 sources ahead" counts down and
 * "processing 12/40 chunks" counts up without reloading. Retry and delete are plain forms: they
 * work before (and without) this island's script.
 */
import { useEffect, useState } from "preact/hooks";
import { PostButton } from "./_post_button.tsx";

export interface SourceRow {
  id: string;
  kind: string;
  title: string;
  url: string | null;
  status: string;
  description: string;
  parentId: string | null;
}

export interface BotSourcesProps {
  botId: string;
  csrf: string;
  sources: SourceRow[];
}

export default function BotSources({ botId, csrf, sources: initial }: BotSourcesProps) {
  const [sources, setSources] = useState(initial);

  useEffect(() => {
    let stopped = false;
    let reading = false;
    const reload = async () => {
      if (reading) return;
      reading = true;
      try {
        const res = await fetch(`/api/v1/bots/${botId}/sources`, {
          headers: { accept: "application/json" },
        });
        if (res.ok && !stopped) setSources((await res.json()).sources);
      } catch {
        /* the next event reads again */
      } finally {
        reading = false;
      }
    };
    const events = new EventSource("/api/v1/events");
    events.addEventListener("bot.source.updated", (e) => {
      const data = JSON.parse((e as MessageEvent).data);
      if (data.botId !== botId) return;
      // The event's own words at once; the list (waits ahead, new pages) right after.
      setSources((list) =>
        list.map((s) =>
          s.id === data.sourceId ? { ...s, status: data.status, description: data.description } : s
        )
      );
      reload();
    });
    // Waiting counts move when other bots' sources finish: read now and then while any waits.
    const timer = setInterval(() => {
      if (sources.some((s) => s.status === "queued" || s.status === "processing")) reload();
    }, 5_000);
    return () => {
      stopped = true;
      events.close();
      clearInterval(timer);
    };
  }, [botId]);

  if (sources.length === 0) {
    return <p class="muted" data-testid="no-sources">Nothing learnt yet: add a source below.</p>;
  }
  return (
    <table class="sources" data-testid="sources">
      <thead>
        <tr>
          <th>Source</th>
          <th>Kind</th>
          <th>State</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        {sources.map((s) => (
          <tr data-source={s.id} data-status={s.status}>
            <td>{s.url ? <a href={s.url} rel="noopener noreferrer">{s.title}</a> : s.title}</td>
            <td>{s.parentId ? "page" : s.kind}</td>
            <td data-testid="source-state" class={s.status === "failed" ? "error" : ""}>
              {s.description}
            </td>
            <td class="actions">
              <PostButton action={`/bots/${botId}/sources/${s.id}/retrain`} csrf={csrf}>
                {s.status === "failed" ? "Retry" : "Retrain"}
              </PostButton>
              <PostButton action={`/bots/${botId}/sources/${s.id}/delete`} csrf={csrf}>
                Delete
              </PostButton>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
