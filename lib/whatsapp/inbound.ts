/**
 * Receiving webhooks: check the signature over the raw bytes, record the request in the webhook
 * log, persist new messages (de-duplicated on the provider's message id), queue the reply job,
 * and answer at once. Nothing slow happens here: the conversation runs in `whatsapp.reply`.
 *
 * Requests arriving together are written together (a group commit: one statement for the log
 * rows, the messages and the delivery statuses of every request waiting), so the webhook keeps
 * up with bursts on the embedded database's single connection. Each request still answers only
 * after its own rows are committed: a 200 always means "stored". A batch the database refuses
 * is written again one request at a time, so one bad request never fails its neighbours; and
 * text is made storable first (storable.ts), so a user's NUL byte is not such a request.
 *
 * Status codes: 401 for a missing or wrong signature (only the log row is written); 200 for
 * anything signed, even when it cannot be understood (Meta would otherwise retry it for days):
 * the log row says what was wrong, and messages that cannot be answered are quarantined
 * (quarantine.ts); 503 when the database cannot take it (the provider retries).
 *
 * Intake is bounded: when `backlog` webhooks are already waiting to be stored, or `unanswered`
 * says more messages than its limit have no reply sent yet (on every instance), the next
 * ones get 503 with `Retry-After` at once, before any work (not even a log row: under overload
 * that write is what must not grow). The providers deliver them again later, so a saturated
 * server slows its intake instead of letting new messages starve the replies to those it holds.
 */
import type { Database } from "../db/mod.ts";
import type { Logger } from "../observability/log.ts";
import { maskPhone } from "../observability/mask.ts";
import { GroupCommit } from "./group_commit.ts";
import { metaHandshake } from "./meta.ts";
import {
  maskedSender,
  QUARANTINE_REASONS,
  quarantineNote,
  type QuarantineReason,
  quarantineReason,
} from "./quarantine.ts";
import { storable } from "./storable.ts";
import type { WebhookLogColumns } from "./webhook_log.ts";
import type { InboundMessage, ProviderName, StatusUpdate, WhatsAppProvider } from "./types.ts";

/** Meta bodies can reach 3 MB; Twilio's form posts are small. */
export const WEBHOOK_BODY_LIMIT: Record<ProviderName, number> = {
  meta: 3 * 1024 * 1024 + 64 * 1024,
  twilio: 256 * 1024,
};
/** The part of a body kept in the webhook log. */
const LOGGED_BODY_CHARS = 64 * 1024;
const SECRET_HEADERS = new Set([
  "authorization",
  "cookie",
  "x-hub-signature",
  "x-hub-signature-256",
  "x-twilio-signature",
]);
export const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>';

export interface InboundDeps {
  db: Database;
  log: Logger;
  /** The configured provider; null when WhatsApp is not configured. */
  provider: WhatsAppProvider | null;
  verifyToken?: string;
  /** PUBLIC_URL (read per request: a server on port 0 learns its URL after starting). */
  publicUrl: () => string;
  /** Queues `whatsapp.reply` for these phones (after their messages are committed). */
  enqueueReplies(phones: string[]): Promise<void>;
  /** Webhooks waiting to be stored at most; beyond, 503 with `Retry-After` (default: no bound). */
  backlog?: number;
  /** Messages with no reply sent yet at most (a recent count); beyond, 503 likewise. */
  unanswered?: { limit: number; count(): Promise<number> };
  /** Counts quarantined messages (quarantine.ts), e.g. a Prometheus counter. */
  quarantined?: { inc(labels: { provider: ProviderName; reason: QuarantineReason }): void };
}

export interface WebhookRequest {
  /** Which endpoint was called. */
  provider: ProviderName;
  method: string;
  /** Path and query as called, e.g. `/api/whatsapp/twilio?x=1`. */
  pathAndQuery: string;
  headers: Headers;
  body: Uint8Array;
  /** `performance.now()` when the request arrived. */
  startedAt: number;
}

export interface WebhookAnswer {
  status: number;
  body: string;
  contentType: string;
  /** For a 503: when to deliver again (the `Retry-After` header). */
  retryAfterSeconds?: number;
}

interface LogRow extends WebhookLogColumns {
  received_at: string;
}

interface Work {
  log: LogRow;
  startedAt: number;
  messages: InboundMessage[];
  statuses: StatusUpdate[];
}

const decoder = new TextDecoder();

function ok(provider: ProviderName): WebhookAnswer {
  return provider === "twilio"
    ? { status: 200, body: EMPTY_TWIML, contentType: "text/xml" }
    : { status: 200, body: "OK", contentType: "text/plain" };
}

const text = (status: number, body: string): WebhookAnswer => ({
  status,
  body,
  contentType: "text/plain",
});

/** Headers as logged: secrets replaced, so a log reader sees a signature came but not its value. */
export function loggedHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) {
    out[name] = SECRET_HEADERS.has(name.toLowerCase()) ? "[removed]" : value;
  }
  return out;
}

const PHONE_KEYS = new Set([
  "from",
  "to",
  "wa_id",
  "recipient_id",
  "display_phone_number",
  "WaId",
  "From",
  "To",
]);

function maskValue(value: string): string {
  const masked = maskPhone(value);
  if (masked !== value) return masked;
  const digits = value.replace(/\D/g, "");
  return digits.length >= 6
    ? value.slice(0, 4) + "*".repeat(Math.max(0, value.length - 6)) +
      value.slice(-2)
    : value;
}

function maskJson(value: unknown, key = ""): unknown {
  if (typeof value === "string") return PHONE_KEYS.has(key) ? maskValue(value) : value;
  if (Array.isArray(value)) return value.map((v) => maskJson(v));
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, maskJson(v, k)]),
    );
  }
  return value;
}

/** The body as stored in the log: phone numbers masked where the provider puts them. */
export function loggedBody(provider: ProviderName, raw: string): string {
  const cut = raw.length > LOGGED_BODY_CHARS ? raw.slice(0, LOGGED_BODY_CHARS) : raw;
  if (provider === "twilio") {
    const form = new URLSearchParams(cut);
    for (const key of [...form.keys()]) {
      if (PHONE_KEYS.has(key)) form.set(key, maskValue(form.get(key) ?? ""));
    }
    return form.toString();
  }
  if (cut.length === raw.length) {
    try {
      return JSON.stringify(maskJson(JSON.parse(raw)));
    } catch { /* not JSON: masked as text below */ }
  }
  return maskPhone(cut);
}

/** Webhook batches written side by side on a database server (its pool has 10 connections). */
const WRITES_AT_ONCE_ON_A_SERVER = 3;
/** What a refused webhook is told: deliver again after this many seconds. */
const BUSY_RETRY_AFTER_SECONDS = 1;
/**
 * How long background work waits for the webhook's writes before its own database step: the
 * webhook goes first, but under continuous intake its queue is never empty, and an unbounded
 * wait would stop every reply.
 */
const INGEST_PRECEDENCE_MS = 20;

/** Handles the webhook endpoints; one per app. */
export class WebhookReceiver {
  readonly #deps: InboundDeps;
  readonly #commits: GroupCommit<Work, number>;
  /** Webhooks received and not yet answered (the backlog bounded by `deps.backlog`). */
  #waiting = 0;
  /** Refused as busy since the last warning (one warning a few seconds at most). */
  #refused = 0;
  #warnedAt = 0;

  constructor(deps: InboundDeps) {
    this.#deps = deps;
    this.#commits = new GroupCommit((items) => this.#write(items), {
      concurrency: deps.db.kind === "server" ? WRITES_AT_ONCE_ON_A_SERVER : 1,
    });
  }

  /**
   * Resolves when no webhook write is waiting, or after a few ms at most (background work lets
   * the webhook's writes go first, without being starved by them).
   */
  idle(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      this.#commits.idle(),
      new Promise<void>((done) => timer = setTimeout(done, INGEST_PRECEDENCE_MS)),
    ]).finally(() => clearTimeout(timer));
  }

  /** Webhooks received and not yet answered. */
  get backlog(): number {
    return this.#waiting;
  }

  /** Meta's verification GET: echo `hub.challenge` when the verify token matches, else 403. */
  verify(params: URLSearchParams): WebhookAnswer {
    if (this.#deps.provider?.name !== "meta") return text(404, "Not found");
    const challenge = metaHandshake(params, this.#deps.verifyToken ?? "");
    return challenge === null ? text(403, "Forbidden") : text(200, challenge);
  }

  /** An oversized body, refused before it was read in full: logged, 413. */
  async tooLarge(request: Omit<WebhookRequest, "body">, size: number): Promise<WebhookAnswer> {
    const answer = text(413, "Payload too large");
    await this.#record(request, null, answer.status, `body over the limit (${size} bytes)`)
      .catch(() => {});
    return answer;
  }

  async receive(request: WebhookRequest): Promise<WebhookAnswer> {
    const unanswered = this.#deps.unanswered;
    // A count that cannot be read refuses nothing: the bound protects replies, not the data.
    if (unanswered && (await unanswered.count().catch(() => 0)) >= unanswered.limit) {
      return this.#busy(request);
    }
    // Checked and counted with no await between, so requests arriving together see each other.
    if (this.#waiting >= (this.#deps.backlog ?? Infinity)) return this.#busy(request);
    this.#waiting++;
    try {
      return await this.#receive(request);
    } finally {
      this.#waiting--;
    }
  }

  /** The backlog is full: 503 and `Retry-After`, nothing written; a warning now and then. */
  #busy(request: WebhookRequest): WebhookAnswer {
    this.#refused++;
    const now = Date.now();
    if (now - this.#warnedAt >= 5_000) {
      this.#deps.log.warn("WhatsApp webhooks refused: intake backlog full, the provider retries", {
        provider: request.provider,
        backlog: this.#waiting,
        unansweredLimit: this.#deps.unanswered?.limit,
        refused: this.#refused,
      });
      this.#warnedAt = now;
      this.#refused = 0;
    }
    return { ...text(503, "Busy, try again later"), retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS };
  }

  async #receive(request: WebhookRequest): Promise<WebhookAnswer> {
    const { provider } = this.#deps;
    if (!provider) {
      await this.#record(request, request.body, 503, "WhatsApp is not configured").catch(() => {});
      return text(503, "WhatsApp is not configured");
    }
    if (provider.name !== request.provider) {
      await this.#record(
        request,
        request.body,
        404,
        `this endpoint is for ${request.provider}; the configured provider is ${provider.name}`,
      ).catch(() => {});
      return text(404, "Not found");
    }
    const raw = {
      url: this.#deps.publicUrl() + request.pathAndQuery,
      headers: request.headers,
      body: request.body,
      receivedAt: Date.now(),
    };
    if (!(await provider.verifySignature(raw))) {
      const header = request.provider === "meta" ? "x-hub-signature-256" : "x-twilio-signature";
      const reason = request.headers.get(header) ? "signature does not match" : "no signature";
      this.#deps.log.warn("WhatsApp webhook refused", { provider: request.provider, reason });
      await this.#record(request, request.body, 401, reason).catch((error) =>
        this.#deps.log.error("webhook log write failed", { error })
      );
      return text(401, "Invalid signature");
    }
    const parsed = provider.parseInbound(raw);
    const messages = this.#withoutQuarantined(request.provider, parsed.messages);
    const notes = [...parsed.problems, quarantineNote(messages.quarantined)].filter((p) => p);
    const problems = notes.length > 0 ? notes.join("; ") : null;
    if (parsed.problems.length > 0) {
      this.#deps.log.warn("WhatsApp webhook not fully understood", {
        provider: request.provider,
        problems: parsed.problems.join("; "),
      });
    }
    try {
      await this.#commits.submit({
        log: this.#logRow(request, request.body, 200, problems, messages.stored.length),
        startedAt: request.startedAt,
        messages: messages.stored,
        statuses: parsed.statuses,
      });
    } catch (error) {
      this.#deps.log.error("WhatsApp webhook could not be stored", { error });
      await this.#record(request, request.body, 503, "could not be stored").catch(() => {});
      return { ...text(503, "Try again later"), retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS };
    }
    return ok(request.provider);
  }

  /** The messages to store, and the reasons of those quarantined (logged and counted here). */
  #withoutQuarantined(provider: ProviderName, messages: InboundMessage[]) {
    const stored: InboundMessage[] = [];
    const quarantined: QuarantineReason[] = [];
    for (const message of messages) {
      const reason = quarantineReason(message);
      if (!reason) {
        stored.push(message);
        continue;
      }
      quarantined.push(reason);
      this.#deps.quarantined?.inc({ provider, reason });
      this.#deps.log.warn("WhatsApp message quarantined", {
        provider,
        reason: QUARANTINE_REASONS[reason],
        sender: maskedSender(message.from),
        messageId: message.id.slice(0, 80),
      });
    }
    return { stored, quarantined };
  }

  #logRow(
    request: Omit<WebhookRequest, "body">,
    body: Uint8Array | null,
    status: number,
    error: string | null,
    messages = 0,
  ): LogRow {
    return {
      received_at: new Date().toISOString(),
      provider: request.provider,
      method: request.method,
      path: request.pathAndQuery.split("?")[0],
      headers: loggedHeaders(request.headers),
      body: body ? loggedBody(request.provider, decoder.decode(body)) : null,
      body_bytes: body?.byteLength ?? 0,
      status,
      processing_ms: 0,
      messages,
      error,
    };
  }

  #record(
    request: Omit<WebhookRequest, "body">,
    body: Uint8Array | null,
    status: number,
    error: string,
  ): Promise<number> {
    return this.#commits.submit({
      log: this.#logRow(request, body, status, error),
      startedAt: request.startedAt,
      messages: [],
      statuses: [],
    });
  }

  async #write(items: Work[]): Promise<number[]> {
    const sql = this.#deps.db.sql;
    const now = performance.now();
    // Parsed text is already storable; the log rows carry raw bodies and headers.
    const logs = items.map((w) => ({
      ...storable(w.log),
      processing_ms: Math.round((now - w.startedAt) * 100) / 100,
    }));
    const seen = new Set<string>();
    const messages = [];
    for (const w of items) {
      for (const m of w.messages) {
        if (seen.has(m.id)) continue;
        seen.add(m.id);
        messages.push(storable({
          provider: m.provider,
          provider_message_id: m.id,
          phone: m.from,
          type: m.type,
          message: m,
        }));
      }
    }
    const statuses = items.flatMap((w) =>
      w.statuses.map((s) =>
        storable({
          id: s.messageId,
          status: s.status,
          error: s.errors.length
            ? s.errors.map((e) => `${e.code} ${e.title}`.trim()).join("; ")
            : null,
        })
      )
    );
    const rows = await sql<{ phone: string }[]>`
      with logged as (
        insert into whatsapp_webhook_log
          (received_at, provider, method, path, headers, body, body_bytes, status, processing_ms,
           messages, error)
        select received_at, provider, method, path, headers, body, body_bytes, status,
               processing_ms, messages, error
        from jsonb_to_recordset(${sql.json(logs as never)}::jsonb) as x(
          received_at timestamptz, provider text, method text, path text, headers jsonb,
          body text, body_bytes integer, status integer, processing_ms real, messages integer,
          error text)
        returning 1
      ), stored as (
        insert into whatsapp_inbound (provider, provider_message_id, phone, type, message)
        select provider, provider_message_id, phone, type, message
        from jsonb_to_recordset(${sql.json(messages as never)}::jsonb) as y(
          provider text, provider_message_id text, phone text, type text, message jsonb)
        on conflict (provider_message_id) do nothing
        returning phone
      ), delivered as (
        update whatsapp_outbound o
          set delivery_status = s.status, error = coalesce(s.error, o.error)
        from jsonb_to_recordset(${sql.json(statuses as never)}::jsonb) as s(
          id text, status text, error text)
        where o.provider_message_id = s.id
          and case s.status when 'sent' then 1 when 'delivered' then 2 when 'read' then 3
            when 'failed' then 4 else 0 end > case o.delivery_status when 'sent' then 1
            when 'delivered' then 2 when 'read' then 3 when 'failed' then 4 else 0 end
        returning 1
      )
      select distinct phone from stored`;
    const phones = rows.map((r) => r.phone);
    if (phones.length > 0) {
      // Not awaited: the messages are stored, which is what the 200 promises, and the next
      // batch need not wait for the queue. A lost enqueue is the reconciler's to repair.
      this.#deps.enqueueReplies(phones).catch((error) =>
        this.#deps.log.error("reply job could not be queued; the reconciler will", { error })
      );
    }
    return items.map(() => 0);
  }
}
