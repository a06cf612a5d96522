/**
 * A fake WhatsApp Cloud API (Graph API) on a real loopback port, for tests and the sandbox.
 *
 * Speaks Meta's wire format (https://developers.facebook.com/docs/whatsapp/cloud-api/) and refuses what Meta refuses, with Meta's
 * error shape (`{error:{message,type,code,error_data:{details},fbtrace_id}}`), so a menu that
 * breaks a limit fails here and not in production:
 *
 * - `POST /{version}/{phone-number-id}/messages` — send (text, interactive button/list,
 *   template, media by id or link) or mark read (+ typing indicator). Bearer token checked.
 * - `GET /{version}/{media-id}` → `{url, mime_type, sha256, file_size, id}`; the URL serves the
 *   bytes to the same bearer for `mediaUrlTtlMs` (5 minutes, like Meta).
 * - `GET /_fake/messages`, `POST /_fake/reset` — for a person poking at the sandbox.
 *
 * Test controls: {@link FakeGraphApi.failNext} (429/130429, 131056, 131047, 500, 401 for the
 * next N calls), {@link FakeGraphApi.closeWindow} (24-hour window closed for a user: only
 * templates pass, as error 131047), {@link FakeGraphApi.addMedia}, and
 * {@link FakeGraphApi.waitForMessages}. Each recorded send carries when it arrived and when it
 * was answered (`sendLatencyMs` apart), so a crash test can tell which were in flight.
 *
 * One deliberate simplification: real Meta usually accepts an out-of-window message and reports
 * 131047 later in a `failed` status webhook; the fake refuses it at once, which exercises the
 * same error kind through the synchronous path.
 *
 * @example
 * await using graph = await startFakeGraphApi();
 * const meta = new MetaCloudProvider({ graphUrl: graph.url, accessToken: graph.accessToken, … });
 * graph.failNext(2, "rate_limit");
 * // … run the reply job …
 * const [reply] = await graph.waitForMessages(1, { to: "+263771234567" });
 */
import { Recorded } from "./recorded.ts";
import { WhatsAppFake } from "./whatsapp_fake.ts";
import {
  failureError,
  GraphError,
  graphError,
  type GraphFailure,
  invalid,
  isObj,
  type PendingFailure,
  randomId,
  unknownObject,
  validateMessage,
} from "./whatsapp_graph_rules.ts";

export type { GraphFailure };

export interface FakeGraphOptions {
  /** The bearer token to accept (default "test-graph-token"). */
  accessToken?: string;
  /** If set, sends to other phone-number ids fail like Meta's unknown-object error. */
  phoneNumberIds?: string[];
  /** How long a media URL works (default 5 minutes). */
  mediaUrlTtlMs?: number;
  /** Larger request bodies get 413 (default 1 MiB). */
  maxBodyBytes?: number;
  /** Oldest records are dropped beyond this many (default 10 000), so a sandbox can run for days. */
  maxRecords?: number;
  /** Default 0 (any free port). */
  port?: number;
  /**
   * How long a send takes to be answered, in ms (default 0). The message is recorded (accepted)
   * when the request arrives and answered after this: a client that dies meanwhile has had its
   * message sent without learning its id, as with the real API.
   */
  sendLatencyMs?: number;
}

/** One message a client sent, as the fake understood it. */
export interface RecordedMessage {
  /** The `wamid.…` the fake answered with. */
  id: string;
  phoneNumberId: string;
  /** As sent (`to` field). */
  to: string;
  type: string;
  /** Text, interactive body text, or template name: what a test usually asserts on. */
  text: string;
  /** The full JSON payload. */
  payload: Record<string, unknown>;
  /** When the request arrived (the message was accepted), epoch ms. */
  receivedAt: number;
  /** When the answer (with the id) was handed back, epoch ms; unset while it is in flight. */
  answeredAt?: number;
}

export interface RecordedRead {
  phoneNumberId: string;
  messageId: string;
  typing: boolean;
  receivedAt: number;
}

/** A request the fake refused, with the error it answered. */
export interface RecordedRejection {
  path: string;
  status: number;
  code: number;
  details: string;
  payload: unknown;
}

interface StoredMedia {
  bytes: Uint8Array;
  mimeType: string;
  sha256: string;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export class FakeGraphApi extends WhatsAppFake<RecordedMessage> {
  readonly accessToken: string;
  readonly #options:
    & Required<Omit<FakeGraphOptions, "phoneNumberIds" | "port" | "sendLatencyMs" | "maxRecords">>
    & {
      phoneNumberIds?: string[];
    };
  readonly #reads: Recorded<RecordedRead>;
  readonly #rejections: Recorded<RecordedRejection>;
  readonly #failures: PendingFailure[] = [];
  readonly #closedWindows = new Set<string>();
  readonly #media = new Map<string, StoredMedia>();
  readonly #sendLatencyMs: number;

  private constructor(options: FakeGraphOptions) {
    super("fake Graph API", (m) => m.text, options);
    this.accessToken = options.accessToken ?? "test-graph-token";
    this.#sendLatencyMs = options.sendLatencyMs ?? 0;
    this.#reads = new Recorded("fake Graph API: reads", options.maxRecords);
    this.#rejections = new Recorded("fake Graph API: rejections", options.maxRecords);
    this.#options = {
      accessToken: this.accessToken,
      mediaUrlTtlMs: options.mediaUrlTtlMs ?? 5 * 60_000,
      maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
      ...(options.phoneNumberIds ? { phoneNumberIds: options.phoneNumberIds } : {}),
    };
  }

  static start(options: FakeGraphOptions = {}): Promise<FakeGraphApi> {
    return Promise.resolve(new FakeGraphApi(options));
  }

  get reads(): readonly RecordedRead[] {
    return this.#reads.items;
  }

  get rejections(): readonly RecordedRejection[] {
    return this.#rejections.items;
  }

  /**
   * The next `count` calls fail as `kind`. `scope: "sends"` (default) counts only message sends,
   * so a mark-read before the reply does not use up the failures a retry test relies on.
   */
  failNext(
    count: number,
    kind: GraphFailure = "rate_limit",
    options: { retryAfterSeconds?: number; scope?: "sends" | "all" } = {},
  ): void {
    for (let i = 0; i < count; i++) {
      this.#failures.push({
        kind,
        scope: options.scope ?? "sends",
        ...(options.retryAfterSeconds === undefined
          ? {}
          : { retryAfterSeconds: options.retryAfterSeconds }),
      });
    }
  }

  /** The 24-hour window with this user (any notation) is closed: only templates get through. */
  closeWindow(to: string): void {
    this.#closedWindows.add(digits(to));
  }

  openWindow(to: string): void {
    this.#closedWindows.delete(digits(to));
  }

  /** Stores bytes as an uploaded user attachment; returns its media id. */
  async addMedia(bytes: Uint8Array, mimeType: string): Promise<string> {
    const id = String(1e15 + Math.floor(Math.random() * 8e15));
    this.#media.set(id, { bytes, mimeType, sha256: await sha256Hex(bytes) });
    return id;
  }

  /** Forgets messages, reads, rejections, failures, closed windows and media. */
  override reset(): void {
    super.reset();
    this.#reads.clear();
    this.#rejections.clear();
    this.#failures.length = 0;
    this.#closedWindows.clear();
    this.#media.clear();
  }

  // -------------------------------------------------------------------------------------------

  protected async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    let payload: unknown;
    try {
      if (url.pathname === "/_fake/messages" && request.method === "GET") {
        return Response.json({ messages: this.messages, reads: this.#reads.items });
      }
      if (url.pathname === "/_fake/reset" && request.method === "POST") {
        this.reset();
        return Response.json({ success: true });
      }
      const parts = url.pathname.split("/").filter(Boolean);
      if (parts[0] === "_media" && parts.length === 2 && request.method === "GET") {
        this.#checkToken(request);
        return this.#serveMediaBytes(parts[1], url);
      }
      if (!/^v\d+\.\d+$/.test(parts[0] ?? "")) {
        throw new GraphError(400, 2500, `Unknown path components: ${url.pathname}`);
      }
      this.#checkToken(request);
      if (parts.length === 3 && parts[2] === "messages" && request.method === "POST") {
        payload = await this.#readJson(request);
        const answer = this.#postMessages(parts[1], payload);
        const sent = answer.message;
        if (!sent) return answer.response;
        if (this.#sendLatencyMs > 0) {
          await new Promise((resolve) => setTimeout(resolve, this.#sendLatencyMs));
        }
        sent.answeredAt = Date.now();
        return answer.response;
      }
      if (parts.length === 2 && request.method === "GET") {
        return this.#describeMedia(parts[1]);
      }
      throw new GraphError(
        400,
        100,
        `Unsupported ${request.method.toLowerCase()} request. Object with ID '${
          parts[1] ?? ""
        }' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
        "",
        { error_subcode: 33 },
      );
    } catch (error) {
      const e = error instanceof GraphError
        ? error
        : new GraphError(500, 1, "An unknown error has occurred.", String(error), {
          is_transient: true,
        });
      this.#rejections.push({
        path: url.pathname,
        status: e.status,
        code: e.code,
        details: e.details,
        payload,
      });
      return graphError(e);
    }
  }

  #checkToken(request: Request): void {
    const header = request.headers.get("authorization") ?? "";
    if (header !== `Bearer ${this.accessToken}`) {
      throw new GraphError(
        401,
        190,
        header
          ? "Invalid OAuth access token - Cannot parse access token"
          : "An active access token must be used to query information about the current user.",
      );
    }
  }

  async #readJson(request: Request): Promise<unknown> {
    const declared = Number(request.headers.get("content-length") ?? 0);
    if (declared > this.#options.maxBodyBytes) {
      await request.body?.cancel();
      throw new GraphError(413, 100, "Request body too large");
    }
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.length > this.#options.maxBodyBytes) {
      throw new GraphError(413, 100, "Request body too large");
    }
    try {
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      throw invalid("The request body is not valid JSON");
    }
  }

  #takeFailure(isSend: boolean): PendingFailure | undefined {
    const index = this.#failures.findIndex((f) => f.scope === "all" || isSend);
    return index === -1 ? undefined : this.#failures.splice(index, 1)[0];
  }

  /** A send or a read; `message` is what was recorded for a send. */
  #postMessages(
    phoneNumberId: string,
    payload: unknown,
  ): { response: Response; message?: RecordedMessage } {
    if (this.#options.phoneNumberIds && !this.#options.phoneNumberIds.includes(phoneNumberId)) {
      throw unknownObject("post", phoneNumberId);
    }
    if (!isObj(payload)) throw invalid("The request body must be a JSON object");
    if (payload.messaging_product !== "whatsapp") {
      throw invalid("The parameter messaging_product is required and must be 'whatsapp'");
    }
    const isRead = payload.status === "read";
    const failure = this.#takeFailure(!isRead);
    if (failure) throw failureError(failure);

    if (isRead) {
      if (typeof payload.message_id !== "string" || !payload.message_id) {
        throw invalid("The parameter message_id is required");
      }
      const typing = payload.typing_indicator;
      if (typing !== undefined && (!isObj(typing) || typing.type !== "text")) {
        throw invalid("typing_indicator.type must be 'text'");
      }
      this.#reads.push({
        phoneNumberId,
        messageId: payload.message_id,
        typing: typing !== undefined,
        receivedAt: Date.now(),
      });
      return { response: Response.json({ success: true }) };
    }

    const to = typeof payload.to === "string" ? payload.to : "";
    if (!/^\+?\d{6,15}$/.test(to)) {
      throw invalid("The parameter to is required and must be a phone number");
    }
    const type = typeof payload.type === "string" ? payload.type : "text";
    const text = validateMessage(type, payload);
    if (type !== "template" && this.#closedWindows.has(digits(to))) {
      throw failureError({ kind: "outside_window" });
    }
    const id = `wamid.${randomId(30)}`;
    const message: RecordedMessage = {
      id,
      phoneNumberId,
      to,
      type,
      text,
      payload,
      receivedAt: Date.now(),
    };
    this.recordSent(message);
    return {
      message,
      response: Response.json({
        messaging_product: "whatsapp",
        contacts: [{ input: to, wa_id: digits(to) }],
        messages: [{ id, ...(type === "template" ? { message_status: "accepted" } : {}) }],
      }),
    };
  }

  #describeMedia(id: string): Response {
    const media = this.#media.get(id);
    if (!media) {
      throw unknownObject("get", id);
    }
    const expires = Date.now() + this.#options.mediaUrlTtlMs;
    return Response.json({
      messaging_product: "whatsapp",
      url: `${this.url}/_media/${id}?ext=${expires}&hash=${randomId(12)}`,
      mime_type: media.mimeType,
      sha256: media.sha256,
      file_size: media.bytes.length,
      id,
    });
  }

  #serveMediaBytes(id: string, url: URL): Response {
    const media = this.#media.get(id);
    const expires = Number(url.searchParams.get("ext"));
    if (!media || !(expires > Date.now())) {
      // Meta's CDN answers an expired or unknown URL with a bare 404.
      return new Response("Not Found", { status: 404 });
    }
    return new Response(media.bytes as Uint8Array<ArrayBuffer>, {
      headers: { "content-type": media.mimeType, "content-length": String(media.bytes.length) },
    });
  }
}

/** Starts a fake Graph API on a free loopback port. */
export function startFakeGraphApi(options: FakeGraphOptions = {}): Promise<FakeGraphApi> {
  return FakeGraphApi.start(options);
}

function digits(phone: string): string {
  return phone.replace(/\D/g, "");
}
