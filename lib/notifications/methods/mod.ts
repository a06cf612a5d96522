/**
 * The delivery methods. Adding one is a module beside these (the two functions of
 * {@link MethodModule}) and one line below; the method list, its zod enum and its type derive
 * from this registry (the SQL CHECK in migrations/0011_notifications.sql is tested equal).
 */
import { email } from "./email.ts";
import { slack } from "./slack.ts";
import { telegram } from "./telegram.ts";
import type { MethodModule } from "./types.ts";
import { webhook } from "./webhook.ts";
import { whatsapp } from "./whatsapp.ts";

export const METHOD_MODULES = { email, slack, telegram, whatsapp, webhook } as const;

export type Method = keyof typeof METHOD_MODULES;

export const METHODS = Object.keys(METHOD_MODULES) as [Method, ...Method[]];

export function methodModule(method: Method): MethodModule {
  return METHOD_MODULES[method] as unknown as MethodModule;
}

export const isMethod = (value: string): value is Method => Object.hasOwn(METHOD_MODULES, value);
