/**
 * The WhatsApp simulator's phone (/admin/simulator): the thread with the bot as one test number,
 * polled every second from `/admin/api/simulator/thread`, newest at the bottom; a composer that
 * sends text; the bot's reply buttons and list rows are buttons that send the tap. Text is shown
 * with WhatsApp's `*bold*`, `_italic_` and `~strike~`, and its links open in a new tab.
 */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { formatCount } from "../lib/format.ts";
import type { Thread, ThreadItem } from "../lib/sandbox/whatsapp_simulator.ts";

export interface WhatsAppSimulatorProps {
  phone: string;
  csrf: string;
  initial: Thread;
  /** The zone times are written in (TZ_METRICS), as on every admin page. */
  timeZone: string;
  /** The longest text the simulator takes (the server's limit, WhatsApp's). */
  textLimit: number;
}

const POLL_MS = 1_000;

// A URL, or a WhatsApp style marker around text that does not start or end with a space and is
// not inside a word ("*151*2*4#" stays as typed, as on a phone).
const INLINE =
  /(https?:\/\/[^\s<>"')]+)|(?<![\p{L}\p{N}])([*_~])(?!\s)([^\n]+?)(?<!\s)\2(?![\p{L}\p{N}])/gu;
const STYLE: Record<string, (children: (string | JSX.Element)[]) => JSX.Element> = {
  "*": (c) => <strong>{c}</strong>,
  "_": (c) => <em>{c}</em>,
  "~": (c) => <s>{c}</s>,
};

/** WhatsApp-formatted text as elements (never as HTML); styles may nest (`_see *this*_`). */
function inline(text: string): (string | JSX.Element)[] {
  const parts: (string | JSX.Element)[] = [];
  let at = 0;
  for (const m of text.matchAll(INLINE)) {
    parts.push(text.slice(at, m.index));
    parts.push(
      m[1]
        ? (
          <a key={m.index} href={m[1]} target="_blank" rel="noopener noreferrer">
            {m[1]}
          </a>
        )
        : STYLE[m[2]](inline(m[3])),
    );
    at = m.index + m[0].length;
  }
  parts.push(text.slice(at));
  return parts;
}

export function Formatted({ text }: { text: string }) {
  return <p class="sim-text">{inline(text)}</p>;
}

const timeOf = (at: number, timeZone: string) =>
  new Date(at).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", timeZone });

function Message(props: {
  item: ThreadItem;
  busy: boolean;
  timeZone: string;
  onChoose(replyTo: string, id: string): void;
}) {
  const { item, busy, timeZone, onChoose } = props;
  const choose = (id: string) => () => onChoose(item.id, id);
  const failed = item.webhookStatus !== undefined && item.webhookStatus !== 200;
  return (
    <li class={`sim-msg sim-${item.from}`} data-testid="sim-message" data-from={item.from}>
      {item.header && <p class="sim-header">{item.header}</p>}
      {item.kind === "template"
        ? (
          <p class="sim-text">
            <em>{item.text}</em>
          </p>
        )
        : <Formatted text={item.text} />}
      {item.footer && <p class="sim-footer">{item.footer}</p>}
      {item.buttons && (
        <div class="sim-buttons">
          {item.buttons.map((b) => (
            <button type="button" key={b.id} disabled={busy} onClick={choose(b.id)}>
              {b.title}
            </button>
          ))}
        </div>
      )}
      {item.list && (
        <details class="sim-list">
          <summary>☰ {item.list.button}</summary>
          {item.list.sections.map((section, i) => (
            <div key={i} role="group" aria-label={section.title || item.list!.button}>
              {section.title && <p class="sim-section">{section.title}</p>}
              <ul>
                {section.rows.map((row) => (
                  <li key={row.id}>
                    <button type="button" disabled={busy} onClick={choose(row.id)}>
                      <span>{row.title}</span>
                      {row.description && <small>{row.description}</small>}
                    </button>
                  </li>
                ))}
              </ul>
            </div>
          ))}
        </details>
      )}
      <p class="sim-meta">
        <time dateTime={new Date(item.at).toISOString()}>{timeOf(item.at, timeZone)}</time>
        {item.from === "user" && (
          <span class={failed ? "bad" : undefined}>
            {failed
              ? ` · not taken (${item.webhookStatus})`
              : item.read
              ? " · ✓✓ read"
              : " · ✓ delivered"}
          </span>
        )}
      </p>
    </li>
  );
}

export default function WhatsAppSimulator(
  { phone, csrf, initial, timeZone, textLimit }: WhatsAppSimulatorProps,
) {
  const [thread, setThread] = useState<Thread>(initial);
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [live, setLive] = useState(true);
  const scroller = useRef<HTMLOListElement>(null);
  const url = `/admin/api/simulator/thread?phone=${encodeURIComponent(phone)}`;

  // A poll and the refresh after a send may overlap: only the newest request's answer is shown.
  const asked = useRef(0);

  async function refresh(): Promise<void> {
    const mine = ++asked.current;
    try {
      const res = await fetch(url, { headers: { accept: "application/json" } });
      if (!res.ok) throw new Error(String(res.status));
      const next: Thread = await res.json();
      if (mine !== asked.current) return;
      setThread(next);
      setLive(true);
    } catch {
      setLive(false);
    }
  }

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      await refresh();
      if (!stopped) timer = setTimeout(tick, POLL_MS);
    };
    timer = setTimeout(tick, POLL_MS);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [url]);

  const count = thread.items.length;
  useEffect(() => {
    const list = scroller.current;
    if (list) list.scrollTop = list.scrollHeight;
  }, [count]);

  async function send(body: Record<string, string>): Promise<boolean> {
    setBusy(true);
    setProblem(null);
    try {
      const res = await fetch("/admin/api/simulator/send", {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": csrf },
        body: JSON.stringify({ phone, ...body }),
      });
      if (!res.ok) {
        const answer = await res.json().catch(() => null);
        setProblem(answer?.error?.message ?? `The message was not sent (${res.status}).`);
        return false;
      }
      await refresh();
      return true;
    } catch {
      setProblem("The message was not sent: the server could not be reached.");
      return false;
    } finally {
      setBusy(false);
    }
  }

  async function submit(e: Event) {
    e.preventDefault();
    if (!text.trim()) return;
    if (await send({ type: "text", text })) setText("");
  }

  const tooLong = text.length > textLimit;
  return (
    <section class="sim-phone" aria-label={`WhatsApp chat as ${phone}`}>
      <header class="sim-top">
        <strong>Hurukuro</strong>
        <span>
          as <span data-testid="sim-phone">{phone}</span>
        </span>
        <span data-testid="sim-balance">
          {thread.balance === null
            ? "No account yet"
            : `Balance: ${formatCount(thread.balance)} tokens`}
        </span>
        <span class="sim-live" role="status">{live ? "● Live" : "Reconnecting…"}</span>
      </header>
      <ol
        class="sim-thread"
        ref={scroller}
        data-testid="sim-thread"
        tabIndex={0}
        aria-label="Messages"
      >
        {count === 0 && <li class="sim-empty muted">No messages yet: say hi.</li>}
        {thread.items.map((item) => (
          <Message
            key={item.id}
            item={item}
            busy={busy}
            timeZone={timeZone}
            onChoose={(replyTo, id) => void send({ type: "reply", replyTo, id })}
          />
        ))}
      </ol>
      {problem && <p class="form-error sim-problem" role="alert">{problem}</p>}
      <form class="sim-composer" onSubmit={submit} data-testid="sim-composer">
        <input
          type="text"
          aria-label="Message"
          placeholder="Message"
          value={text}
          autocomplete="off"
          aria-invalid={tooLong ? "true" : undefined}
          onInput={(e) => setText((e.target as HTMLInputElement).value)}
        />
        <button type="submit" class="primary" disabled={busy || tooLong || !text.trim()}>
          Send
        </button>
      </form>
      {tooLong && (
        <p class="form-error" role="alert">
          At most {textLimit} characters ({text.length} now).
        </p>
      )}
    </section>
  );
}
