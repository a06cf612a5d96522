/**
 * Live service status on the home page: shows what the server rendered, then refreshes from
 * `/health` when asked (or every 30 s), so a visitor sees at once whether the service is up.
 */
import { useEffect, useState } from "preact/hooks";

export interface HealthStatusProps {
  /** The status the server saw while rendering the page. */
  initial: "ok" | "degraded";
  checkedAt: string;
}

export default function HealthStatus({ initial, checkedAt }: HealthStatusProps) {
  const [status, setStatus] = useState<string>(initial);
  const [at, setAt] = useState(checkedAt);
  const [busy, setBusy] = useState(false);

  async function refresh() {
    setBusy(true);
    try {
      const res = await fetch("/health", { headers: { accept: "application/json" } });
      const body = await res.json();
      setStatus(body.status);
    } catch {
      setStatus("unreachable");
    } finally {
      setAt(new Date().toISOString());
      setBusy(false);
    }
  }

  useEffect(() => {
    const timer = setInterval(refresh, 30_000);
    return () => clearInterval(timer);
  }, []);

  const label = status === "ok"
    ? "All systems working"
    : status === "degraded"
    ? "Some parts are down; we are on it"
    : "The service cannot be reached";
  return (
    <section class={`status status-${status}`} aria-live="polite">
      <p>
        <strong data-testid="status-label">{label}</strong>
        <br />
        <small>
          Checked <time dateTime={at}>{at.replace("T", " ").slice(0, 19)} UTC</time>
        </small>
      </p>
      <button type="button" onClick={refresh} disabled={busy}>
        {busy ? "Checking…" : "Check again"}
      </button>
    </section>
  );
}
