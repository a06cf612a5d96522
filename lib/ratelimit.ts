/**
 * Fixed-window rate limiting counted in this process's memory: a request costs no write
 * anywhere. A limit holds for the whole system however many instances serve it: each instance
 * allows its share of it ({@link RateLimiterOptions.shareOf}, lib/instances.ts: the limit divided
 * by the live instances, the parts adding up to the limit), read at every hit, so the shares
 * follow instances as they come and go. With the balancer spreading a caller's requests evenly
 * (round robin), the 21st request of a minute on a 20-per-minute limit is refused wherever it
 * lands; a balancer that sends one caller to one instance refuses them at that instance's share.
 */
export interface RateDecision {
  allowed: boolean;
  /** The limit for the whole system. */
  limit: number;
  /**
   * Requests left in this window for the whole system, estimated from this instance's count
   * (exact with one instance; with several it assumes the balancer spreads them evenly).
   */
  remaining: number;
  /** Seconds until the window resets (what `Retry-After` says). */
  retryAfterSeconds: number;
}

export interface RateLimiter {
  /** Counts one hit on `bucket` (e.g. `["user", id]`) against `limit` per `windowMs`. */
  hit(bucket: string[], limit: number, windowMs?: number, now?: number): Promise<RateDecision>;
  /** Counters held now (ended windows are forgotten within a minute). */
  readonly size: number;
}

export interface RateLimiterOptions {
  /** This instance's part of a system-wide limit; the whole limit by default (one instance). */
  shareOf?: (limit: number) => number;
}

/**
 * A limiter, one per app instance: it owns its counters.
 *
 * @example
 * const limiter = createRateLimiter({ shareOf: (limit) => instances.shareOf(limit) });
 * const decision = await limiter.hit(["user", userId], 60);
 * if (!decision.allowed) throw tooMany(decision.retryAfterSeconds);
 */
export function createRateLimiter(options: RateLimiterOptions = {}): RateLimiter {
  const shareOf = options.shareOf ?? ((limit: number) => limit);
  /** Per bucket and window length: the window counted and its hits. */
  const counters = new Map<string, { windowStart: number; count: number }>();
  let sweptAt = 0;

  /** Forgets counters of windows that have ended (at most once a minute, one pass). */
  const sweep = (now: number) => {
    if (now - sweptAt < 60_000) return;
    sweptAt = now;
    for (const [key, counter] of counters) {
      const windowMs = Number(key.slice(key.lastIndexOf("\u0000") + 1));
      if (counter.windowStart + windowMs <= now) counters.delete(key);
    }
  };

  return {
    get size() {
      return counters.size;
    },
    hit(bucket, limit, windowMs = 60_000, now) {
      const at = now ?? Date.now();
      sweep(at);
      const windowStart = Math.floor(at / windowMs) * windowMs;
      const retryAfterSeconds = Math.max(1, Math.ceil((windowStart + windowMs - at) / 1000));
      const key = [...bucket, windowMs].join("\u0000");
      let counter = counters.get(key);
      if (!counter || counter.windowStart !== windowStart) {
        counter = { windowStart, count: 0 };
        counters.set(key, counter);
      }
      const share = shareOf(limit);
      if (counter.count >= share) {
        return Promise.resolve({ allowed: false, limit, remaining: 0, retryAfterSeconds });
      }
      counter.count++;
      // What is left of this instance's share, scaled up to the whole limit.
      const remaining = Math.max(0, Math.floor((share - counter.count) * limit / share));
      return Promise.resolve({ allowed: true, limit, remaining, retryAfterSeconds });
    },
  };
}
