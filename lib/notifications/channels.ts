/**
 * Channels: saved only once their settings pass their method's schema and checks, with the
 * secret named or sealed (secrets.ts), never in the settings. Refusals are `unprocessable`
 * (HTTP 422) naming each field; an unknown method names the known ones.
 */
import { z } from "zod";
import { NOTIFY_SECRET_NAME } from "../config.ts";
import { AppError } from "../errors.ts";
import type { Enqueuer } from "../jobs/types.ts";
import { textField, UNSTORABLE_TEXT } from "../text.ts";
import { type NotificationsDeps, sendServices, urlPolicy } from "./deps.ts";
import { isMethod, type Method, methodModule, METHODS } from "./methods/mod.ts";
import { SendError } from "./methods/types.ts";
import { type Channel, type ChannelRow, isUuid, toChannel, withUniqueName } from "./model.ts";
import { resolveSecrets, sealSecret } from "./secrets.ts";

/**
 * A channel's secret as given: `undefined` keeps the stored one (or none, on creation), `null`
 * removes it, `{ env }` names a NOTIFY_* variable, `{ value }` is stored encrypted.
 */
export type SecretInput = { env: string } | { value: string } | null | undefined;

export interface ChannelInput {
  name: string;
  method: string;
  settings: unknown;
  secret?: SecretInput;
}

interface Problem {
  field: string;
  message: string;
}

export const ChannelName = textField().trim().min(1).max(80);

function refuse(problems: Problem[]): never {
  // Text the database cannot store is the one text rule's refusal (400), wherever it hides.
  const unstorable = problems.find((p) => p.message === UNSTORABLE_TEXT);
  if (unstorable) {
    throw new AppError("validation_failed", `${unstorable.field}: ${UNSTORABLE_TEXT}.`, {
      field: unstorable.field,
    });
  }
  throw new AppError(
    "unprocessable",
    problems.map((p) => `${p.field}: ${p.message}`).join("; "),
    { issues: problems },
  );
}

const issuesOf = (error: z.ZodError, prefix: string): Problem[] =>
  error.issues.map((i) => ({
    field: [prefix, ...i.path.map(String)].filter(Boolean).join("."),
    message: i.code === "unrecognized_keys"
      ? `unknown field${i.keys.length > 1 ? "s" : ""}: ${i.keys.join(", ")}`
      : i.message,
  }));

interface Validated {
  name: string;
  method: Method;
  settings: Record<string, unknown>;
  recipient: string;
}

/** The channel as it will be saved, or a refusal naming every problem. */
export async function validateChannel(
  deps: NotificationsDeps,
  input: ChannelInput,
  stored: { method: Method; hasSecret: boolean } | null,
): Promise<Validated> {
  const problems: Problem[] = [];
  const name = ChannelName.safeParse(input.name);
  if (!name.success) problems.push(...issuesOf(name.error, "name"));
  if (!isMethod(input.method)) {
    problems.push({
      field: "method",
      message: `unknown method "${String(input.method).slice(0, 40)}"; the methods are ${
        METHODS.join(", ")
      }`,
    });
    refuse(problems);
  }
  const method = input.method;
  const module = methodModule(method);
  const settings = module.settings.safeParse(input.settings ?? {});
  if (!settings.success) problems.push(...issuesOf(settings.error, "settings"));
  else problems.push(...await module.validate(settings.data, { urlPolicy: urlPolicy(deps) }));

  const secret = input.secret;
  const keeps = secret === undefined && stored?.hasSecret === true;
  const will = secret ? true : secret === null ? false : keeps;
  if (secret && module.secret === "none") {
    problems.push({ field: "secret", message: `${module.label} channels take no secret` });
  } else if (!will && module.secret === "required") {
    problems.push({ field: "secret", message: `a ${module.label} channel needs a secret` });
  }
  if (secret && "env" in secret) {
    if (typeof secret.env !== "string" || !NOTIFY_SECRET_NAME.test(secret.env)) {
      problems.push({
        field: "secret.env",
        message: "name an environment variable starting with NOTIFY_ (capitals, digits, _)",
      });
    } else if (!deps.config.notifications.envSecrets[secret.env]) {
      problems.push({ field: "secret.env", message: `${secret.env} is not set on this server` });
    }
  } else if (secret && "value" in secret) {
    const min = module.secret === "required" ? 16 : 1;
    const value = textField().min(min).max(2_000).safeParse(secret.value);
    if (!value.success) {
      problems.push(
        ...issuesOf(value.error, "secret.value").map((p) => ({
          ...p,
          message: p.message === UNSTORABLE_TEXT ? p.message : `${min} to 2,000 characters`,
        })),
      );
    }
  }
  if (problems.length > 0) refuse(problems);
  const data = settings.data as Record<string, unknown>;
  return { name: name.data!, method, settings: data, recipient: module.recipient(data) };
}

/** The columns of a secret as given (`undefined`: leave them as they are). */
async function secretColumns(
  deps: NotificationsDeps,
  id: string,
  secret: SecretInput,
  method: Method,
): Promise<{ secret_env: string | null; secret_sealed: string | null } | undefined> {
  if (methodModule(method).secret === "none") return { secret_env: null, secret_sealed: null };
  if (secret === undefined) return undefined;
  if (secret === null) return { secret_env: null, secret_sealed: null };
  if ("env" in secret) return { secret_env: secret.env, secret_sealed: null };
  return { secret_env: null, secret_sealed: await sealSecret(deps.config, id, secret.value) };
}

export async function createChannel(
  deps: NotificationsDeps,
  input: ChannelInput,
): Promise<Channel> {
  const v = await validateChannel(deps, input, null);
  const id = crypto.randomUUID();
  const secret = await secretColumns(deps, id, input.secret, v.method) ??
    { secret_env: null, secret_sealed: null };
  return await withUniqueName("A channel", v.name, async () => {
    const sql = deps.db.sql;
    const [row] = await sql<ChannelRow[]>`
      insert into notification_channels (id, name, method, settings, recipient, secret_env,
                                         secret_sealed)
      values (${id}, ${v.name}, ${v.method}, ${sql.json(v.settings as never)}, ${v.recipient},
              ${secret.secret_env}, ${secret.secret_sealed})
      returning *`;
    return toChannel(row);
  });
}

export async function updateChannel(
  deps: NotificationsDeps,
  id: string,
  input: ChannelInput,
): Promise<Channel> {
  const current = await getChannel(deps, id);
  if (!current) throw new AppError("not_found", "This channel does not exist.");
  // A secret belongs to its method (a webhook's signing secret is no Slack token): a channel
  // changing method keeps none unless given one.
  const given = input.method !== current.method && input.secret === undefined ? null : input.secret;
  const v = await validateChannel(deps, { ...input, secret: given }, {
    method: current.method,
    hasSecret: current.secret.source !== "none",
  });
  const secret = await secretColumns(deps, id, given, v.method);
  return await withUniqueName("A channel", v.name, async () => {
    const sql = deps.db.sql;
    const replace = secret !== undefined;
    const [row] = await sql<ChannelRow[]>`
      update notification_channels set name = ${v.name}, method = ${v.method},
        settings = ${sql.json(v.settings as never)}, recipient = ${v.recipient},
        secret_env = case when ${replace} then ${secret?.secret_env ?? null} else secret_env end,
        secret_sealed = case when ${replace} then ${secret?.secret_sealed ?? null}
                             else secret_sealed end,
        updated_at = now()
      where id = ${id} returning *`;
    if (!row) throw new AppError("not_found", "This channel does not exist.");
    return toChannel(row);
  });
}

export async function getChannel(deps: NotificationsDeps, id: string): Promise<Channel | null> {
  if (!isUuid(id)) return null;
  const [row] = await deps.db.sql<ChannelRow[]>`
    select * from notification_channels where id = ${id}`;
  return row ? toChannel(row) : null;
}

export async function listChannels(deps: NotificationsDeps): Promise<Channel[]> {
  const rows = await deps.db.sql<ChannelRow[]>`select * from notification_channels order by name`;
  return rows.map(toChannel);
}

/** Deletes the channel (and its place in topics); its past deliveries keep its name. */
export async function deleteChannel(deps: NotificationsDeps, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const rows = await deps.db.sql`delete from notification_channels where id = ${id} returning id`;
  return rows.length === 1;
}

export type TestOutcome =
  | { ok: true; response: string; providerMessageId: string | null }
  | { ok: false; error: string; retryable: boolean };

/**
 * Sends a test message through the channel at once (not through the queue, not logged as a
 * delivery) and reports the upstream's answer.
 */
export async function testChannel(
  deps: NotificationsDeps,
  jobs: Enqueuer,
  id: string,
): Promise<TestOutcome> {
  if (!isUuid(id)) throw new AppError("not_found", "This channel does not exist.");
  const [row] = await deps.db.sql<ChannelRow[]>`
    select * from notification_channels where id = ${id}`;
  if (!row) throw new AppError("not_found", "This channel does not exist.");
  const channel = toChannel(row);
  const module = methodModule(channel.method);
  try {
    const secrets = await resolveSecrets(deps.config, row);
    const settings = module.settings.parse(channel.settings);
    const sent = await module.send(
      {
        deliveryId: `test-${crypto.randomUUID()}`,
        topic: "test",
        title: "Test from Hurukuro",
        text: `This is a test of the channel **${channel.name}**. If you can read it, it works.`,
        publishedAt: new Date(),
      },
      settings,
      secrets,
      sendServices(deps, jobs),
    );
    deps.log.info("notification channel tested", { channelId: id, method: channel.method });
    return { ok: true, response: sent.response, providerMessageId: sent.providerMessageId };
  } catch (error) {
    if (!(error instanceof SendError)) throw error;
    deps.log.warn("notification channel test failed", {
      channelId: id,
      method: channel.method,
      error: error.message,
    });
    return { ok: false, error: error.message, retryable: error.retryable };
  }
}
