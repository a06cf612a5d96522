/**
 * The web chat: conversation list, new chat / new essay, the answer streamed in as it is
 * written (markdown rendered safely, lib/markdown.ts), a stop button, the balance kept live
 * (from each answer's `usage` event and the account's `wallet.updated` events), and plain
 * messages for 402/429/errors. A dropped stream is resumed with `Last-Event-ID`.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { createParser } from "eventsource-parser";
import { renderMarkdown } from "../lib/markdown.ts";
import { formatCount } from "../lib/format.ts";
import { MAX_MESSAGE_CHARS, titleOf } from "../lib/chat/title.ts";

export interface ChatConversation {
  id: string;
  mode: "chat" | "essay";
  title: string | null;
  lastActivityAt: string;
}

/** The active configuration's prices, for the estimate shown before a long message. */
export interface ChatPricing {
  inputPer1k: number;
  outputPer1k: number;
  chatMaxOutputTokens: number;
  essayMaxOutputTokens: number;
}

export interface ChatProps {
  csrf: string;
  balance: number;
  conversations: ChatConversation[];
  topUpUrl: string;
  /** Null when the AI is not configured (asking then says so). */
  pricing: ChatPricing | null;
}

/** From this length on, the page counts the characters left before the limit. */
const COUNT_FROM = 12_000;
/** From this length on, the page estimates what sending costs. */
const ESTIMATE_FROM = 2_000;

/**
 * What sending `chars` characters costs, roughly (4 characters a token, as the model's tokenizer
 * averages for English): the message itself, and the most held while the answer is written.
 */
function estimateCost(chars: number, pricing: ChatPricing, mode: "chat" | "essay") {
  const input = Math.ceil(chars / 4);
  const output = mode === "essay" ? pricing.essayMaxOutputTokens : pricing.chatMaxOutputTokens;
  return {
    message: Math.ceil((input * pricing.inputPer1k) / 1000),
    upTo: Math.ceil((input * pricing.inputPer1k + output * pricing.outputPer1k) / 1000),
  };
}

interface ShownMessage {
  key: string;
  role: "user" | "assistant";
  content: string;
  status: "streaming" | "complete" | "aborted" | "error";
  cost?: number | null;
}

interface Notice {
  kind: "error" | "funds" | "info";
  text: string;
}

type StreamEvent = { id: number; event: string; data: Record<string, unknown> };

/** Reads an SSE body, calling `onEvent` for each event; resolves when the body ends. */
async function readEvents(res: Response, onEvent: (e: StreamEvent) => void): Promise<void> {
  const parser = createParser({
    onEvent: (m) =>
      onEvent({ id: Number(m.id), event: m.event ?? "message", data: JSON.parse(m.data) }),
  });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    parser.feed(value);
  }
}

/**
 * The refusal names the top-up page's address (WhatsApp shows it as text); here that address
 * becomes the link, and a sentence without it gets the link after it.
 */
function FundsNotice({ text, url }: { text: string; url: string }) {
  const at = text.indexOf(url);
  if (at < 0) {
    return (
      <>
        {text} <a href={url}>Top up</a>
      </>
    );
  }
  const before = text.slice(0, at).replace(/\bTop up at $/i, "");
  return (
    <>
      {before}
      <a href={url}>Top up your tokens</a>
      {text.slice(at + url.length).replace(/^ and try again\./, ", then try again.")}
    </>
  );
}

function Markdown({ text }: { text: string }) {
  return <div class="md" dangerouslySetInnerHTML={{ __html: renderMarkdown(text) }} />;
}

export default function Chat(props: ChatProps) {
  const [conversations, setConversations] = useState(props.conversations);
  const [current, setCurrent] = useState<string | null>(props.conversations[0]?.id ?? null);
  const [mode, setMode] = useState<"chat" | "essay">(props.conversations[0]?.mode ?? "chat");
  const [messages, setMessages] = useState<ShownMessage[]>([]);
  const [balance, setBalance] = useState(props.balance);
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice | null>(null);
  const [showList, setShowList] = useState(false);
  const answering = useRef<string | null>(null);
  const bottom = useRef<HTMLDivElement>(null);

  const headers = { "content-type": "application/json", "x-csrf-token": props.csrf };

  async function load(id: string) {
    const res = await fetch(`/api/v1/conversations/${id}`);
    if (!res.ok) return;
    const body = await res.json();
    setMode(body.mode);
    setMessages(
      body.messages.map((m: ShownMessage & { id: string }) => ({ ...m, key: m.id })),
    );
  }

  useEffect(() => {
    if (current) load(current);
  }, []);

  useEffect(() => {
    // Purchases and answers on other screens move the balance too.
    const events = new EventSource("/api/v1/events");
    events.addEventListener("wallet.updated", (e) => {
      const data = JSON.parse((e as MessageEvent).data);
      if (typeof data.balance === "number") setBalance(data.balance);
    });
    return () => events.close();
  }, []);

  useEffect(() => {
    bottom.current?.scrollIntoView?.({ block: "end" });
  }, [messages]);

  function select(c: ChatConversation) {
    if (busy) return;
    setCurrent(c.id);
    setMode(c.mode);
    setNotice(null);
    setShowList(false);
    load(c.id);
  }

  function startNew(newMode: "chat" | "essay") {
    if (busy) return;
    setCurrent(null);
    setMode(newMode);
    setMessages([]);
    setNotice(null);
    setShowList(false);
  }

  function patchLast(fn: (m: ShownMessage) => ShownMessage) {
    setMessages((list) => [...list.slice(0, -1), fn(list[list.length - 1])]);
  }

  /** A refusal before any answer leaves no empty bubble; a cut answer keeps what came. */
  function failLast() {
    setMessages((list) => {
      const last = list[list.length - 1];
      if (last?.role === "assistant" && !last.content) return list.slice(0, -1);
      return [...list.slice(0, -1), { ...last, status: "error" }];
    });
  }

  async function send(event: Event) {
    event.preventDefault();
    const question = text.trim();
    if (!question || busy || question.length > MAX_MESSAGE_CHARS) return;
    setBusy(true);
    setNotice(null);
    setText("");
    const stamp = String(Date.now());
    setMessages((list) => [
      ...list,
      { key: `u${stamp}`, role: "user", content: question, status: "complete" },
      { key: `a${stamp}`, role: "assistant", content: "", status: "streaming" },
    ]);
    try {
      // A new chat or essay is created by its first answer (a refused question starts none).
      const url = current
        ? `/api/v1/conversations/${current}/messages`
        : mode === "essay"
        ? "/api/v1/essays"
        : "/api/v1/chats";
      const res = await fetch(url, {
        method: "POST",
        headers,
        body: JSON.stringify({ text: question }),
      });
      if (!res.ok) throw await failure(res);
      await follow(res, question);
    } catch (error) {
      const n = error as Notice;
      setNotice(n.kind ? n : { kind: "error", text: "The connection was lost. Please try again." });
      failLast();
    } finally {
      answering.current = null;
      setBusy(false);
    }
  }

  /** Follows the answer; resumes from the last event seen if the connection drops. */
  async function follow(first: Response, question: string) {
    let lastId = 0;
    let messageId = "";
    let over = false;
    const onEvent = (e: StreamEvent) => {
      lastId = e.id;
      if (e.event === "start") {
        messageId = e.data.messageId as string;
        answering.current = messageId;
        const conversationId = e.data.conversationId as string;
        const startedMode = e.data.mode as "chat" | "essay";
        setCurrent(conversationId);
        setConversations((list) =>
          list.some((c) => c.id === conversationId) ? list : [
            {
              id: conversationId,
              mode: startedMode,
              title: titleOf(question),
              lastActivityAt: new Date().toISOString(),
            },
            ...list,
          ]
        );
      } else if (e.event === "delta") {
        patchLast((m) => ({ ...m, content: m.content + (e.data.text as string) }));
      } else if (e.event === "usage") {
        setBalance(e.data.balance as number);
        patchLast((m) => ({ ...m, cost: e.data.cost as number }));
      } else if (e.event === "done") {
        over = true;
        patchLast((m) => ({ ...m, status: e.data.status as ShownMessage["status"] }));
      } else if (e.event === "error") {
        over = true;
        failLast();
        setNotice({ kind: "error", text: e.data.message as string });
      }
    };
    let res = first;
    for (let attempt = 0; attempt < 4; attempt++) {
      try {
        await readEvents(res, onEvent);
      } catch { /* dropped: resume below */ }
      if (over || !messageId) break;
      await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
      res = await fetch(`/api/v1/messages/${messageId}/stream`, {
        headers: { "last-event-id": String(lastId) },
      });
      if (!res.ok) break;
    }
    if (!over) throw { kind: "error", text: "The connection was lost. Please try again." };
  }

  async function failure(res: Response): Promise<Notice> {
    let message = "Something went wrong. Please try again.";
    try {
      message = (await res.json()).error?.message ?? message;
    } catch { /* not JSON */ }
    if (res.status === 402) return { kind: "funds", text: message };
    if (res.status === 401) return { kind: "error", text: "Please sign in again." };
    return { kind: "error", text: message };
  }

  async function stop() {
    const id = answering.current;
    if (!id) return;
    await fetch(`/api/v1/messages/${id}/stop`, { method: "POST", headers }).catch(() => {});
  }

  // The server counts the trimmed text; so does the page, and nothing typed or pasted is cut.
  const length = text.trim().length;
  const tooLong = length > MAX_MESSAGE_CHARS;
  const estimate = props.pricing && length >= ESTIMATE_FROM
    ? estimateCost(length, props.pricing, mode)
    : null;

  const title = current
    ? conversations.find((c) => c.id === current)?.title ?? "Conversation"
    : mode === "essay"
    ? "New essay"
    : "New chat";

  return (
    <div class="chat">
      <aside
        id="chat-list"
        class={`chat-list${showList ? " open" : ""}`}
        aria-label="Your conversations"
      >
        <div class="chat-new">
          <button type="button" onClick={() => startNew("chat")} disabled={busy}>
            New chat
          </button>
          <button type="button" onClick={() => startNew("essay")} disabled={busy}>
            New essay
          </button>
        </div>
        <ul>
          {conversations.map((c) => (
            <li key={c.id}>
              <button
                type="button"
                class={c.id === current ? "current" : ""}
                onClick={() => select(c)}
              >
                <span class={`mode mode-${c.mode}`}>{c.mode}</span> {c.title ?? "Untitled"}
              </button>
            </li>
          ))}
          {conversations.length === 0 && <li class="muted">No conversations yet.</li>}
        </ul>
      </aside>
      <section class="chat-main">
        <div class="chat-head">
          <button
            type="button"
            class="chat-toggle"
            aria-label="Conversations"
            aria-expanded={showList}
            aria-controls="chat-list"
            onClick={() => setShowList(!showList)}
          >
            <span aria-hidden="true">☰</span>
          </button>
          <h1>{title}</h1>
          <span class="balance">
            <strong data-testid="balance">{formatCount(balance)}</strong> tokens
          </span>
        </div>
        <div class="chat-log" aria-live="polite">
          {messages.length === 0 && (
            <p class="muted">
              {mode === "essay"
                ? "Ask one question and get a complete, structured essay. Essays have no memory."
                : "Ask anything. The conversation remembers what you said earlier."}
            </p>
          )}
          {messages.map((m) => (
            <div
              key={m.key}
              class={`msg msg-${m.role} msg-${m.status}`}
              data-testid={m.role === "assistant" ? "answer" : "question"}
            >
              {m.role === "assistant"
                ? <Markdown text={m.content} />
                : <p class="msg-text">{m.content}</p>}
              {m.role === "assistant" && m.status === "streaming" && !m.content && (
                <span class="muted">Thinking…</span>
              )}
              {m.role === "assistant" && m.status === "aborted" && (
                <small class="muted">Stopped.</small>
              )}
              {m.role === "assistant" && typeof m.cost === "number" && m.status !== "streaming" &&
                <small class="muted cost">{formatCount(m.cost)} tokens</small>}
            </div>
          ))}
          <div ref={bottom} />
        </div>
        <div class="chat-compose">
          {notice && (
            <p class={`chat-notice notice-${notice.kind}`} role="alert" data-testid="chat-error">
              {notice.kind === "funds" ? <FundsNotice text={notice.text} url={props.topUpUrl} /> : (
                notice.text
              )}
            </p>
          )}
          <form class="chat-form" onSubmit={send}>
            <textarea
              name="text"
              data-testid="chat-input"
              aria-label="Your message"
              aria-describedby="chat-meta"
              aria-invalid={tooLong}
              rows={2}
              placeholder={mode === "essay" ? "Your essay question…" : "Type your message…"}
              value={text}
              onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
              onKeyDown={(e) => {
                if (e.key === "Enter" && !e.shiftKey) send(e);
              }}
            />
            {busy
              ? (
                <button type="button" data-testid="stop" onClick={stop}>
                  Stop
                </button>
              )
              : (
                <button type="submit" data-testid="send" disabled={!length || tooLong}>
                  Send
                </button>
              )}
          </form>
          <p id="chat-meta" class="chat-meta" aria-live="polite" data-testid="chat-meta">
            {length >= COUNT_FROM && (
              <span class={tooLong ? "too-long" : ""} data-testid="char-count">
                {formatCount(length)} / {formatCount(MAX_MESSAGE_CHARS)} characters
                {tooLong && `: ${formatCount(length - MAX_MESSAGE_CHARS)} too many to send`}
              </span>
            )}
            {estimate && !tooLong && (
              <span data-testid="cost-estimate">
                Sending this costs about {formatCount(estimate.message)} tokens, up to{" "}
                {formatCount(estimate.upTo)} with the answer.
              </span>
            )}
          </p>
        </div>
      </section>
    </div>
  );
}
