/**
 * What the fake Graph API refuses, as Meta does: the limits of interactive messages (Meta's, as
 * `META_LIMITS` lists them for our client), the checks of each message type, and Meta's error
 * shape (`{error:{message,type,code,error_data:{details},fbtrace_id}}`), for whatsapp_graph.ts.
 */
import { META_LIMITS } from "../whatsapp/meta_payload.ts";

export type GraphFailure =
  | "rate_limit"
  | "pair_rate_limit"
  | "outside_window"
  | "server_error"
  | "unauthorized";

export interface PendingFailure {
  kind: GraphFailure;
  retryAfterSeconds?: number;
  scope: "sends" | "all";
}

export type Json = Record<string, unknown>;

export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly details = "",
    readonly extra: Json = {},
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** Meta's "(#100) Invalid parameter" with the reason in `error_data.details`. */
export const invalid = (details: string) =>
  new GraphError(400, 100, "(#100) Invalid parameter", details);

/** Meta's answer for an id it does not know (a phone number id, a media id), by HTTP method. */
export const unknownObject = (method: "get" | "post", id: string) =>
  new GraphError(
    400,
    100,
    `Unsupported ${method} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
    "",
    { error_subcode: 33 },
  );

export const isObj = (v: unknown): v is Json =>
  v !== null && typeof v === "object" && !Array.isArray(v);

export function randomId(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...raw)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

export function graphError(e: GraphError): Response {
  return Response.json(
    {
      error: {
        message: e.message,
        type: "OAuthException",
        code: e.code,
        ...e.extra,
        ...(e.details ? { error_data: { messaging_product: "whatsapp", details: e.details } } : {}),
        fbtrace_id: randomId(15),
      },
    },
    {
      status: e.status,
      headers: e.retryAfterSeconds === undefined
        ? {}
        : { "retry-after": String(e.retryAfterSeconds) },
    },
  );
}

/** The error Meta answers for `failure` (a scripted one, or a closed window met for real). */
export function failureError(failure: Omit<PendingFailure, "scope">): GraphError {
  switch (failure.kind) {
    case "rate_limit":
      return new GraphError(
        429,
        130429,
        "(#130429) Rate limit hit",
        "Cloud API message throughput has been reached.",
        {},
        failure.retryAfterSeconds,
      );
    case "pair_rate_limit":
      return new GraphError(
        400,
        131056,
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        "Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.",
      );
    case "outside_window":
      return new GraphError(
        400,
        131047,
        "(#131047) Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
      );
    case "server_error":
      return new GraphError(500, 1, "An unknown error has occurred.", "", { is_transient: true });
    case "unauthorized":
      return new GraphError(401, 190, "Error validating access token: Session has expired.");
  }
}

/** Checks one send payload against Meta's rules; returns the text a test asserts on. */
export function validateMessage(type: string, payload: Json): string {
  const part = payload[type];
  if (!isObj(part)) throw invalid(`The parameter ${type} is required for type ${type}`);
  const context = payload.context;
  if (context !== undefined && (!isObj(context) || typeof context.message_id !== "string")) {
    throw invalid("context.message_id must be a string");
  }
  switch (type) {
    case "text": {
      const body = part.body;
      if (typeof body !== "string" || !body.trim()) throw invalid("text.body is required");
      if (body.length > META_LIMITS.text) {
        throw invalid(`text.body is ${body.length} characters; the maximum is ${META_LIMITS.text}`);
      }
      return body;
    }
    case "interactive":
      return validateInteractive(part);
    case "template": {
      if (typeof part.name !== "string" || !part.name) throw invalid("template.name is required");
      if (!isObj(part.language) || typeof part.language.code !== "string") {
        throw invalid("template.language.code is required");
      }
      return part.name;
    }
    case "image":
    case "document":
    case "audio":
    case "video":
    case "sticker": {
      if (typeof part.id !== "string" && typeof part.link !== "string") {
        throw invalid(`${type} needs an id or a link`);
      }
      return typeof part.caption === "string" ? part.caption : "";
    }
    default:
      throw invalid(`Unsupported message type ${type}`);
  }
}

function textOf(value: unknown, what: string, max: number, required = true): string {
  if (value === undefined && !required) return "";
  if (typeof value !== "string" || !value.trim()) throw invalid(`${what} is required`);
  if (value.length > max) {
    throw invalid(`${what} is ${value.length} characters; the maximum is ${max}`);
  }
  return value;
}

function validateInteractive(part: Json): string {
  const body = textOf(
    isObj(part.body) ? part.body.text : undefined,
    "interactive.body.text",
    META_LIMITS.interactiveBody,
  );
  if (part.header !== undefined) {
    if (!isObj(part.header) || part.header.type !== "text") {
      throw invalid("interactive.header.type must be 'text' here");
    }
    textOf(part.header.text, "interactive.header.text", META_LIMITS.header);
  }
  if (part.footer !== undefined) {
    textOf(
      isObj(part.footer) ? part.footer.text : undefined,
      "interactive.footer.text",
      META_LIMITS.footer,
    );
  }
  const action = isObj(part.action) ? part.action : undefined;
  if (!action) throw invalid("interactive.action is required");

  if (part.type === "button") {
    const buttons = Array.isArray(action.buttons) ? action.buttons : [];
    if (buttons.length < 1 || buttons.length > META_LIMITS.buttons) {
      throw invalid(
        `action.buttons must have 1 to ${META_LIMITS.buttons} buttons, got ${buttons.length}`,
      );
    }
    const titles = new Set<string>();
    const ids = new Set<string>();
    for (const button of buttons) {
      const reply = isObj(button) && button.type === "reply" && isObj(button.reply)
        ? button.reply
        : undefined;
      if (!reply) throw invalid("each button must be {type:'reply', reply:{id,title}}");
      const id = textOf(reply.id, "button id", META_LIMITS.buttonId);
      const title = textOf(reply.title, "button title", META_LIMITS.buttonTitle);
      if (titles.has(title)) throw invalid(`button titles must be unique: '${title}'`);
      if (ids.has(id)) throw invalid(`button ids must be unique: '${id}'`);
      titles.add(title);
      ids.add(id);
    }
    return body;
  }
  if (part.type === "list") {
    textOf(action.button, "action.button", META_LIMITS.listButton);
    const sections = Array.isArray(action.sections) ? action.sections : [];
    if (sections.length < 1 || sections.length > META_LIMITS.sections) {
      throw invalid(`action.sections must have 1 to ${META_LIMITS.sections} sections`);
    }
    const ids = new Set<string>();
    let rows = 0;
    for (const section of sections) {
      if (!isObj(section) || !Array.isArray(section.rows) || section.rows.length === 0) {
        throw invalid("each section needs rows");
      }
      textOf(section.title, "section title", META_LIMITS.sectionTitle, sections.length > 1);
      for (const row of section.rows) {
        if (!isObj(row)) throw invalid("each row must be an object");
        const id = textOf(row.id, "row id", META_LIMITS.rowId);
        textOf(row.title, "row title", META_LIMITS.rowTitle);
        textOf(row.description, "row description", META_LIMITS.rowDescription, false);
        if (ids.has(id)) throw invalid(`row ids must be unique: '${id}'`);
        ids.add(id);
        rows++;
      }
    }
    if (rows > META_LIMITS.rows) {
      throw invalid(`a list can have at most ${META_LIMITS.rows} rows, got ${rows}`);
    }
    return body;
  }
  throw invalid(`Unsupported interactive type ${String(part.type)}`);
}
