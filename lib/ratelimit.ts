/**
 * Fixed-window rate limiting on Deno KV. The count is read and raised with an atomic
 * compare-and-set, so concurrent requests are counted exactly: the 61st request of a minute on
 * a 60-per-minute limit is refused, whatever arrives at the same moment. Hits of one bucket in
 * this process take turns, so they never race each other on the compare-and-set; a hit from
 * another process in between makes the check fail, and the key is read and the hit tried again.
 */
export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets (what `Retry-After` says). */
  retryAfterSeconds: number;
}

export interface RateLimiter {
  /** Counts one hit on `bucket` (e.g. `["user", id]`) against `limit` per `windowMs`. */
  hit(bucket: string[], limit: number, windowMs?: number, now?: number): Promise<RateDecision>;
}

/**
 * A limiter on `kv`, one per app instance: it owns the turns its hits take.
 *
 * @example
 * const limiter = createRateLimiter(kv);
 * const decision = await limiter.hit(["user", userId], 60);
 * if (!decision.allowed) throw tooMany(decision.retryAfterSeconds);
 */
export function createRateLimiter(kv: Deno.Kv): RateLimiter {
  /** Per-bucket promise chains: hits in this process take turns. */
  const turns = new Map<string, Promise<unknown>>();
  return {
    hit(bucket, limit, windowMs = 60_000, now) {
      const at = now ?? Date.now();
      const id = bucket.join("\u0000");
      const run = (turns.get(id) ?? Promise.resolve())
        .then(() => hit(kv, bucket, limit, windowMs, at));
      const settled = run.catch(() => {});
      turns.set(id, settled);
      settled.then(() => {
        if (turns.get(id) === settled) turns.delete(id);
      });
      return run;
    },
  };
}

async function hit(
  kv: Deno.Kv,
  bucket: string[],
  limit: number,
  windowMs: number,
  now: number,
): Promise<RateDecision> {
  const windowStart = Math.floor(now / windowMs) * windowMs;
  const key = ["ratelimit", ...bucket, windowStart];
  const retryAfterSeconds = Math.max(1, Math.ceil((windowStart + windowMs - now) / 1000));
  for (let attempt = 0; attempt < 50; attempt++) {
    const current = await kv.get<number>(key);
    const count = current.value ?? 0;
    if (count >= limit) return { allowed: false, limit, remaining: 0, retryAfterSeconds };
    const res = await kv.atomic().check(current)
      .set(key, count + 1, { expireIn: windowMs * 2 }).commit();
    if (res.ok) return { allowed: true, limit, remaining: limit - count - 1, retryAfterSeconds };
    // Another process wrote in between: read again, after a short random wait.
    await new Promise((r) => setTimeout(r, Math.random() * 5 * (attempt + 1)));
  }
  // Extreme contention on one key: refusing is the safe answer.
  return { allowed: false, limit, remaining: 0, retryAfterSeconds };
}
