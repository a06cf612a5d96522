/**
 * Settings shared by the fuzz suite (`tests/fuzz/`): one seed and one case budget for every
 * property, so a failure seen anywhere can be replayed with the seed it prints.
 *
 * - CI runs the suite inside `deno task test` with the fixed default seed and a small budget.
 * - `deno task fuzz` runs many more cases (`FUZZ_RUNS`, default 2000 there) with a fresh seed
 *   unless `FUZZ_SEED` is given.
 */
import fc from "fast-check";

const runsFromEnv = Number(Deno.env.get("FUZZ_RUNS"));
const seedFromEnv = Deno.env.get("FUZZ_SEED");

/** Cases per property: small in the regular suite so the whole fuzz suite stays under a minute. */
export const FUZZ_RUNS = Number.isInteger(runsFromEnv) && runsFromEnv > 0 ? runsFromEnv : 25;

/** A fixed seed in the regular suite; a fresh one when more cases are asked for. */
export const FUZZ_SEED = seedFromEnv !== undefined && seedFromEnv !== ""
  ? Number(seedFromEnv)
  : Deno.env.get("FUZZ_RUNS")
  ? Math.floor(Math.random() * 2 ** 31)
  : 20261207;

/** fast-check parameters for `fc.assert`: the seed is printed with any counterexample. */
export function fuzzParams<T>(overrides: fc.Parameters<T> = {}): fc.Parameters<T> {
  return { seed: FUZZ_SEED, numRuns: FUZZ_RUNS, ...overrides };
}

/** Printed once per file so a `deno task fuzz` run can be replayed. */
export function announceSeed(name: string): void {
  if (Deno.env.get("FUZZ_RUNS")) {
    console.log(`${name}: FUZZ_SEED=${FUZZ_SEED} FUZZ_RUNS=${FUZZ_RUNS}`);
  }
}
