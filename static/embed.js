/*
 * Hurukuro's chat bubble for a bot, on any page of a website its owner allowed:
 *
 *   <script src="https://HURUKURO/embed.js?bot=hkb_…" async></script>
 *
 * Plain JavaScript, no dependencies. Everything it draws lives in a shadow root with a
 * constructed stylesheet (no inline style or script), so it needs nothing of the host page's
 * Content-Security-Policy but `script-src` and `connect-src` for Hurukuro's origin. Visitors are
 * named by an anonymous id kept in localStorage; no cookie is sent (credentials: "omit").
 * Answers stream as Server-Sent Events over fetch (they are POSTs), citations below each one.
 */
(() => {
  "use strict";
  const script = document.currentScript;
  if (!script || !script.src) return;
  const source = new URL(script.src);
  const key = source.searchParams.get("bot") || "";
  if (!/^hkb_[A-Za-z0-9]{8,60}$/.test(key)) return;
  if (document.querySelector(`[data-hurukuro-bot="${key}"]`)) return;
  const api = `${source.origin}/api/v1/bots/embed/${key}`;

  const randomId = () => {
    const bytes = crypto.getRandomValues(new Uint8Array(18));
    return "v_" + btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
      .replace(/=+$/, "");
  };
  let visitorId;
  try {
    const storageKey = `hurukuro:visitor:${key}`;
    visitorId = localStorage.getItem(storageKey);
    if (!visitorId || !/^v_[A-Za-z0-9_-]{16,64}$/.test(visitorId)) {
      visitorId = randomId();
      localStorage.setItem(storageKey, visitorId);
    }
  } catch {
    visitorId = randomId(); // storage blocked: this page view only
  }

  const CSS = `
    :host { all: initial; }
    .bubble { position: fixed; right: 20px; bottom: 20px; width: 56px; height: 56px;
      border-radius: 50%; border: 0; background: #0b7a53; color: #fff; font: 600 24px/1 system-ui,
      sans-serif; cursor: pointer; box-shadow: 0 4px 14px rgba(0,0,0,.25); z-index: 2147483000; }
    .panel { position: fixed; right: 20px; bottom: 88px; width: min(360px, calc(100vw - 40px));
      height: min(520px, calc(100vh - 120px)); display: none; flex-direction: column;
      background: #fff; color: #1d1d1b; border-radius: 12px; overflow: hidden;
      box-shadow: 0 8px 30px rgba(0,0,0,.25); font: 14px/1.45 system-ui, sans-serif;
      z-index: 2147483000; }
    .panel.open { display: flex; }
    header { background: #0b7a53; color: #fff; padding: 10px 14px; font-weight: 600; }
    .log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column;
      gap: 8px; }
    .msg { max-width: 85%; padding: 8px 10px; border-radius: 10px; white-space: pre-wrap;
      overflow-wrap: anywhere; }
    .user { align-self: flex-end; background: #e6f2ec; }
    .bot { align-self: flex-start; background: #f2f2ef; }
    .problem { align-self: center; color: #b42318; font-size: 13px; }
    .cites { margin: 6px 0 0; padding: 0; list-style: none; font-size: 12px; color: #55554f; }
    .cites a { color: #0b5cad; }
    .rate { margin-top: 4px; display: flex; gap: 4px; }
    .rate button { border: 1px solid #d0d0c8; background: #fff; border-radius: 6px;
      cursor: pointer; font-size: 12px; padding: 1px 6px; }
    .rate button[aria-pressed="true"] { background: #e6f2ec; border-color: #0b7a53; }
    form { display: flex; gap: 6px; padding: 10px; border-top: 1px solid #e5e5df; }
    input { flex: 1; font: inherit; padding: 8px; border: 1px solid #c9c9c2; border-radius: 8px; }
    form button { font: inherit; border: 0; border-radius: 8px; background: #0b7a53;
      color: #fff; padding: 0 14px; cursor: pointer; }
    form button:disabled { opacity: .5; cursor: default; }
  `;

  const host = document.createElement("div");
  host.setAttribute("data-hurukuro-bot", key);
  const root = host.attachShadow({ mode: "open" });
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(CSS);
  root.adoptedStyleSheets = [sheet];

  const el = (tag, attrs = {}, text) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const bubble = el(
    "button",
    { class: "bubble", type: "button", "aria-label": "Chat with us" },
    "?",
  );
  const panel = el("section", { class: "panel", role: "dialog", "aria-label": "Chat" });
  const title = el("header", {}, "Chat");
  const log = el("div", { class: "log", "aria-live": "polite", "data-testid": "log" });
  const form = el("form");
  const input = el("input", {
    type: "text",
    maxlength: "4000",
    placeholder: "Ask a question…",
    "aria-label": "Your question",
  });
  const send = el("button", { type: "submit" }, "Send");
  form.append(input, send);
  panel.append(title, log, form);
  root.append(bubble, panel);
  document.body.append(host);

  let conversationId;
  let loaded = false;
  const scrollDown = () => (log.scrollTop = log.scrollHeight);
  const problem = (text) => {
    log.append(el("div", { class: "msg problem", role: "alert" }, text));
    scrollDown();
  };

  const showCitations = (node, citations) => {
    node.querySelector(".cites")?.remove();
    if (!Array.isArray(citations) || citations.length === 0) return;
    const list = el("ul", { class: "cites" });
    for (const c of citations) {
      const item = el("li", {}, `[${c.n}] `);
      if (typeof c.url === "string" && /^https?:\/\//.test(c.url)) {
        item.append(
          el("a", { href: c.url, target: "_blank", rel: "noopener noreferrer" }, c.title),
        );
      } else item.append(document.createTextNode(c.title));
      list.append(item);
    }
    node.append(list);
  };

  const showRating = (node, messageId, current) => {
    const rate = el("div", { class: "rate" });
    for (const [rating, label] of [["up", "👍"], ["down", "👎"]]) {
      const button = el("button", {
        type: "button",
        "aria-label": rating === "up" ? "Helpful" : "Not helpful",
        "aria-pressed": String(current === rating),
      }, label);
      button.addEventListener("click", async () => {
        const res = await fetch(`${api}/messages/${messageId}/feedback`, {
          method: "POST",
          credentials: "omit",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ visitorId, rating }),
        }).catch(() => null);
        if (res && res.ok) {
          for (const b of rate.querySelectorAll("button")) b.setAttribute("aria-pressed", "false");
          button.setAttribute("aria-pressed", "true");
        }
      });
      rate.append(button);
    }
    node.append(rate);
  };

  const answerNode = (text = "") => {
    const node = el("div", { class: "msg bot", "data-testid": "answer" });
    const body = el("div", { class: "text" }, text);
    node.append(body);
    log.append(node);
    return { node, body };
  };

  async function load() {
    loaded = true;
    let res;
    try {
      res = await fetch(`${api}?visitorId=${encodeURIComponent(visitorId)}`, {
        credentials: "omit",
      });
    } catch {
      return problem("This chat is not available on this website.");
    }
    if (!res.ok) return problem("This chat is not available right now.");
    const data = await res.json();
    title.textContent = data.name;
    conversationId = data.conversationId || undefined;
    if (data.greeting) answerNode(data.greeting);
    for (const m of data.messages) {
      if (m.role === "user") log.append(el("div", { class: "msg user" }, m.content));
      else {
        const { node } = answerNode(m.content);
        showCitations(node, m.citations);
        showRating(node, m.id, m.feedback);
      }
    }
    scrollDown();
  }

  /** Reads an SSE body, calling `onEvent(name, data)` for each event. */
  async function readEvents(body, onEvent) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        let data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        if (data) onEvent(name, JSON.parse(data));
      }
    }
  }

  async function ask(text) {
    log.append(el("div", { class: "msg user" }, text));
    const { node, body } = answerNode();
    scrollDown();
    send.disabled = true;
    try {
      const res = await fetch(`${api}/messages`, {
        method: "POST",
        credentials: "omit",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ visitorId, text, conversationId }),
      });
      if (!res.ok || !res.body) {
        const error = await res.json().catch(() => null);
        node.remove();
        return problem(error?.error?.message || "The question could not be asked.");
      }
      let messageId = res.headers.get("x-message-id");
      await readEvents(res.body, (name, data) => {
        if (name === "start") {
          conversationId = data.conversationId;
          messageId = data.messageId;
        } else if (name === "delta") {
          body.textContent += data.text;
          scrollDown();
        } else if (name === "done") {
          showCitations(node, data.citations);
          if (messageId) showRating(node, messageId, null);
          node.setAttribute("data-done", "true");
        } else if (name === "error") {
          problem(data.message || "The answer stopped.");
        }
      });
    } catch {
      if (!body.textContent) node.remove();
      problem(
        body.textContent
          ? "The connection was lost. Try again."
          : "This chat is not available on this website.",
      );
    } finally {
      send.disabled = false;
      scrollDown();
    }
  }

  bubble.addEventListener("click", () => {
    panel.classList.toggle("open");
    if (panel.classList.contains("open")) {
      if (!loaded) load();
      input.focus();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || send.disabled) return;
    input.value = "";
    ask(text);
  });
})();
