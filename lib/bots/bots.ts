/**
 * Bots: created by a user (their owner), who alone — or an admin — sees and changes them. A bot
 * that belongs to someone else is answered exactly like one that does not exist (callers turn
 * `null` into `not_found`), so ids cannot be probed.
 *
 * The input schemas live here, written once, and serve the API and the pages alike.
 */
import { z } from "zod";
import type { Sql } from "../db/mod.ts";
import { AppError } from "../errors.ts";
import { randomToken } from "../security/tokens.ts";
import { textField } from "../text.ts";
import type { Role } from "../accounts/users.ts";
import {
  type Bot,
  type BotLimits,
  type BotRow,
  type LimitsRow,
  PUBLIC_KEY_PREFIX,
  toBot,
  toLimits,
} from "./model.ts";

/** Who acts on a bot: its owner, or an admin. */
export interface Actor {
  id: string;
  role: Role;
}

export const MAX_ORIGINS = 20;

/**
 * A website origin as browsers send it in `Origin`: scheme, host and port (the default port
 * left out), lower-case, no path. `https://Shop.Example:443/` → `https://shop.example`.
 */
export function normaliseOrigin(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return null;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return null;
  if (url.username || url.password || url.search || url.hash) return null;
  if (url.pathname !== "/" && url.pathname !== "") return null;
  return url.origin;
}

const Origin = textField().trim().max(200).transform((s, ctx) => {
  const origin = normaliseOrigin(s);
  if (!origin) {
    ctx.addIssue({
      code: "custom",
      message: `"${s.slice(0, 60)}" is not a website origin (like https://shop.example)`,
    });
    return z.NEVER;
  }
  return origin;
});

const fields = {
  name: textField().trim().min(1, "give the bot a name").max(80),
  greeting: textField().trim().max(500),
  instructions: textField().trim().max(4000),
  model: textField().trim().max(100).nullable(),
  temperature: z.number().min(0).max(2),
  knowledgeOnly: z.boolean(),
  allowedOrigins: z.array(Origin).max(MAX_ORIGINS)
    .transform((list) => [...new Set(list)]),
  active: z.boolean(),
};

/** A new bot: a name is all it needs. */
export const BotInput = z.strictObject({
  name: fields.name,
  greeting: fields.greeting.default("Hello! How can I help?"),
  instructions: fields.instructions.default(""),
  model: fields.model.default(null),
  temperature: fields.temperature.default(0.3),
  knowledgeOnly: fields.knowledgeOnly.default(true),
  allowedOrigins: fields.allowedOrigins.default([]),
  active: fields.active.default(true),
});
export type BotInput = z.infer<typeof BotInput>;

/** A change: any of the fields. */
export const BotPatch = z.strictObject({
  name: fields.name.optional(),
  greeting: fields.greeting.optional(),
  instructions: fields.instructions.optional(),
  model: fields.model.optional(),
  temperature: fields.temperature.optional(),
  knowledgeOnly: fields.knowledgeOnly.optional(),
  allowedOrigins: fields.allowedOrigins.optional(),
  active: fields.active.optional(),
});
export type BotPatch = z.infer<typeof BotPatch>;

const isUuid = (id: string) => z.uuid().safeParse(id).success;

/** What the user's tier allows them to do with bots. */
export async function limitsFor(sql: Sql, userId: string): Promise<BotLimits> {
  const [row] = await sql<LimitsRow[]>`
    select t.* from users u join tiers t on t.name = u.tier where u.id = ${userId}`;
  if (!row) throw new AppError("not_found", "This account does not exist.");
  return toLimits(row);
}

/** Models a bot may choose: those of the active AI configurations. */
export async function availableModels(sql: Sql): Promise<string[]> {
  const rows = await sql<{ model: string }[]>`
    select distinct model from ai_configs where active order by model`;
  return rows.map((r) => r.model);
}

async function checkModel(sql: Sql, model: string | null | undefined): Promise<void> {
  if (!model) return;
  const models = await availableModels(sql);
  if (!models.includes(model)) {
    throw new AppError(
      "validation_failed",
      `model: "${model}" is not offered here; choose one of ${models.join(", ") || "none"}, ` +
        "or leave it empty for the default.",
      { field: "model", models },
    );
  }
}

export async function createBot(sql: Sql, ownerId: string, input: BotInput): Promise<Bot> {
  await checkModel(sql, input.model);
  const limits = await limitsFor(sql, ownerId);
  // The count and the insert in one statement: two requests at once cannot both pass the limit
  // by more than the one that commits first (the owner's row lock serialises them).
  const rows = await sql.begin(async (tx): Promise<BotRow[]> => {
    await tx`select id from users where id = ${ownerId} for update`;
    const [{ n }] = await tx`select count(*)::int as n from bots where owner_id = ${ownerId}`;
    if (n >= limits.botsMax) return [];
    return await tx<BotRow[]>`
      insert into bots (owner_id, name, greeting, instructions, model, temperature,
                        knowledge_only, allowed_origins, active, public_key)
      values (${ownerId}, ${input.name}, ${input.greeting}, ${input.instructions}, ${input.model},
              ${input.temperature}, ${input.knowledgeOnly}, ${input.allowedOrigins}::text[],
              ${input.active}, ${PUBLIC_KEY_PREFIX + randomToken(24)})
      returning *`;
  });
  if (rows.length === 0) {
    throw new AppError(
      "forbidden",
      `Your ${limits.tier} plan allows ${limits.botsMax} ${
        limits.botsMax === 1 ? "bot" : "bots"
      }. ` +
        "Delete one or move to a larger plan.",
      { limit: limits.botsMax },
    );
  }
  return toBot(rows[0]);
}

/** The bot, if `actor` may see it (its owner, or an admin); null otherwise. */
export async function getBot(sql: Sql, actor: Actor, id: string): Promise<Bot | null> {
  if (!isUuid(id)) return null;
  const [row] = await sql<BotRow[]>`select * from bots where id = ${id}`;
  if (!row) return null;
  const bot = toBot(row);
  return bot.ownerId === actor.id || actor.role === "admin" ? bot : null;
}

/** Like {@link getBot}, but throws `not_found` when the actor may not see it. */
export async function requireBot(sql: Sql, actor: Actor, id: string): Promise<Bot> {
  const bot = await getBot(sql, actor, id);
  if (!bot) throw new AppError("not_found", "This bot does not exist.");
  return bot;
}

export async function listBots(sql: Sql, ownerId: string): Promise<Bot[]> {
  const rows = await sql<
    BotRow[]
  >`select * from bots where owner_id = ${ownerId} order by created_at desc`;
  return rows.map(toBot);
}

export async function getBotByPublicKey(sql: Sql, key: string): Promise<Bot | null> {
  if (!key.startsWith(PUBLIC_KEY_PREFIX) || key.length > 64) return null;
  const [row] = await sql<BotRow[]>`select * from bots where public_key = ${key}`;
  return row ? toBot(row) : null;
}

export async function updateBot(
  sql: Sql,
  actor: Actor,
  id: string,
  patch: BotPatch,
): Promise<Bot> {
  const bot = await requireBot(sql, actor, id);
  if (patch.model !== undefined) await checkModel(sql, patch.model);
  const next = {
    ...bot,
    ...Object.fromEntries(
      Object.entries(patch).filter(([, v]) => v !== undefined),
    ),
  } as Bot;
  const [row] = await sql<BotRow[]>`
    update bots set name = ${next.name}, greeting = ${next.greeting},
      instructions = ${next.instructions}, model = ${next.model},
      temperature = ${next.temperature}, knowledge_only = ${next.knowledgeOnly},
      allowed_origins = ${next.allowedOrigins}::text[], active = ${next.active},
      updated_at = now()
    where id = ${bot.id} returning *`;
  return toBot(row);
}

/** A new public key: the old embed snippet stops working at once. */
export async function rotatePublicKey(sql: Sql, actor: Actor, id: string): Promise<Bot> {
  const bot = await requireBot(sql, actor, id);
  const [row] = await sql<BotRow[]>`
    update bots set public_key = ${PUBLIC_KEY_PREFIX + randomToken(24)}, updated_at = now()
    where id = ${bot.id} returning *`;
  return toBot(row);
}

/**
 * Deletes the bot with everything it owns (sources, chunks, conversations, webhooks, figures);
 * returns the storage keys of its uploaded files, for the caller to remove.
 */
export async function deleteBot(sql: Sql, actor: Actor, id: string): Promise<string[]> {
  const bot = await requireBot(sql, actor, id);
  return await sql.begin(async (tx) => {
    const files = await tx<{ storage_key: string }[]>`select storage_key from bot_sources
                           where bot_id = ${bot.id} and storage_key is not null`;
    // Its conversations and messages go with it; the ledger entries of what its answers cost
    // stay (the money moved).
    await tx`delete from bots where id = ${bot.id}`;
    return files.map((f) => f.storage_key);
  });
}
