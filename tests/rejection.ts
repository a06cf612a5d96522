/** Asserting that a promise fails, for tests that go on to inspect the error. */
import assert from "node:assert/strict";

/**
 * The error `promise` rejects with, asserted to be a `type` when one is given; a failure if the
 * promise resolves.
 */
export async function rejection<T = unknown>(
  promise: Promise<unknown>,
  type?: abstract new (...args: never[]) => T,
): Promise<T> {
  const settled = await promise.then(
    () => ({ rejected: false as const }),
    (error: unknown) => ({ rejected: true as const, error }),
  );
  if (!settled.rejected) assert.fail("expected a rejection");
  if (type) {
    assert.ok(settled.error instanceof type, `expected a ${type.name}, got ${settled.error}`);
  }
  return settled.error as T;
}
