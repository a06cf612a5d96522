/** Checks of the WhatsApp providers' typed failures, shared by the fakes' tests. */
import assert from "node:assert/strict";
import { WhatsAppError, type WhatsAppProvider } from "../lib/whatsapp/types.ts";

/** For `assert.rejects`: a WhatsAppError of `kind` that also passes `check`. */
export function isKind(kind: string, check: (e: WhatsAppError) => boolean = () => true) {
  return (e: unknown) => e instanceof WhatsAppError && e.kind === kind && check(e);
}

/**
 * For each `[failure, kind]`: the fake, told to fail its next send with `failure`, makes the
 * provider's send to `to` fail as a WhatsAppError of `kind`.
 */
export async function assertScriptedFailures<
  Fake extends { failNext(count: number, failure: never): void },
>(
  fake: Fake,
  provider: Pick<WhatsAppProvider, "send">,
  to: string,
  expected: readonly (readonly [NonNullable<Parameters<Fake["failNext"]>[1]>, string])[],
): Promise<void> {
  for (const [failure, kind] of expected) {
    fake.failNext(1, failure as never);
    await assert.rejects(provider.send(to, { type: "text", text: "x" }), isKind(kind), failure);
  }
}
