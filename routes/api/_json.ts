/**
 * Domain objects as the API answers them: the fields their response schema names, times as
 * ISO 8601 text (documented as `date-time`).
 */
import { z } from "@hono/zod-openapi";
import { ROLES, type User } from "../../lib/accounts/users.ts";

/** A time in an answer: ISO 8601 text, documented as `date-time`. */
export const dateTime = () => z.string().openapi({ format: "date-time" });

/** When a stored item was made and last changed, as the items that keep both answer them. */
export const timestamps = { createdAt: dateTime(), updatedAt: dateTime() };

/** A field of a domain object as JSON answers it: a `Date` as ISO 8601 text, the rest as is. */
type JsonField<V> = V extends Date ? string : V;

/**
 * The JSON answer `schema` documents for a domain object: the fields the schema names, taken from
 * `value` (any other field stays out of the answer), dates as ISO 8601 text.
 */
export function jsonOf<S extends z.ZodObject, T extends Record<keyof z.output<S>, unknown>>(
  schema: S,
  value: T,
): { [K in keyof z.output<S>]: JsonField<T[K]> } {
  const fields = Object.keys(schema.shape).map((key) => {
    const field = value[key as keyof T];
    return [key, field instanceof Date ? field.toISOString() : field];
  });
  return Object.fromEntries(fields) as { [K in keyof z.output<S>]: JsonField<T[K]> };
}

export const UserSchema = z.object({
  id: z.uuid(),
  email: z.string().nullable(),
  displayName: z.string().nullable(),
  phone: z.string().nullable().openapi({ example: "+263771234567" }),
  role: z.enum(ROLES),
  tier: z.string(),
  createdAt: dateTime(),
}).openapi("User");

export const userJson = (u: User): z.infer<typeof UserSchema> => jsonOf(UserSchema, u);
