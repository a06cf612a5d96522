/**
 * What this process last saw of its users' wallets, so the model call can start before the
 * wallet is read for a user seen moments ago with tokens to spare.
 *
 * Before an answer, the wallet read and the daily-cap check are a round trip each; for a user
 * known to cover the answer, the model call starts at once and those checks run beside it. A
 * check that refuses still refuses, and stops the call before any of its output is shown; the
 * hint is then dropped, so a user cannot make us start calls they cannot pay for more than once
 * per answer they did pay for. The reservation stays the authority: a hint never lets an answer
 * through, it only decides whether the model starts before or after the checks.
 */

/** Users remembered at most (the oldest sighting is forgotten first). */
export const SOLVENCY_HINT_USERS = 10_000;
/** A sighting older than this says nothing. */
export const SOLVENCY_HINT_MS = 10 * 60_000;

export class SolvencyHints {
  #seen = new Map<string, { available: number; at: number }>();

  constructor(
    private readonly maxUsers = SOLVENCY_HINT_USERS,
    private readonly maxAgeMs = SOLVENCY_HINT_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A reservation passed, leaving `available` tokens free. */
  passed(userId: string, available: number): void {
    this.#seen.delete(userId); // re-inserted last: the map's order is the age order
    this.#seen.set(userId, { available, at: this.now() });
    if (this.#seen.size > this.maxUsers) {
      this.#seen.delete(this.#seen.keys().next().value!);
    }
  }

  /** A check refused this user: no early start until an answer of theirs passes again. */
  refused(userId: string): void {
    this.#seen.delete(userId);
  }

  /** The last sighting, recent enough, covers an answer that may cost `estimate`. */
  covers(userId: string, estimate: number): boolean {
    const seen = this.#seen.get(userId);
    if (!seen) return false;
    if (this.now() - seen.at > this.maxAgeMs) {
      this.#seen.delete(userId);
      return false;
    }
    return seen.available >= estimate;
  }

  get size(): number {
    return this.#seen.size;
  }
}
