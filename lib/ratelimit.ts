/**
 * Fixed-window rate limiting on Deno KV. The count is read and raised with an atomic
 * compare-and-set, so concurrent requests are counted exactly: the 61st request of a minute on
 * a 60-per-minute limit is refused, whatever arrives at the same moment.
 *
 * Each process remembers the count it last wrote per bucket (with the entry's versionstamp), so a
 * hit is one KV operation: the compare-and-set against what it wrote. Only when another process
 * wrote in between does the check fail, and the key is read and the hit tried again.
 *
 * A request need not wait for that operation when the answer is sure to be yes: when this process
 * wrote the bucket in this window and the count, with the hits still being written, is far below
 * the limit (a fifth of it to spare, on limits of 20 and more) and no hit of the bucket is being
 * written, the hit is allowed at once and counted behind it. Near the
 * limit, and on a window's first hit, the request waits for the count as before. Within one
 * process the count stays exact; other processes' hits are learnt at the next write, so together
 * they can pass a limit only by hits made in the same few milliseconds while far below it.
 */
export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets (what `Retry-After` says). */
  retryAfterSeconds: number;
}

/** Per-bucket promise chains: hits in this process take turns, so they never race each other
 * on the compare-and-set; only hits from other processes can (and then retry). */
const turns = new Map<string, Promise<unknown>>();

interface Written {
  windowStart: number;
  value: number;
  versionstamp: string;
}
/** What this process last wrote, per KV store and bucket. */
const written = new WeakMap<Deno.Kv, Map<string, Written>>();
/** Smaller limits are always counted before answering (a few hits make all the difference). */
const FAST_FROM_LIMIT = 20;
/** Hits allowed at once whose count is still being written, per store and bucket. */
const unwritten = new WeakMap<Deno.Kv, Map<string, number>>();
/** Buckets remembered per store; beyond that the memory is dropped (it only saves reads). */
const MAX_REMEMBERED = 10_000;

export function hitRateLimit(
  kv: Deno.Kv,
  bucket: string[],
  limit: number,
  windowMs = 60_000,
  now?: number,
): Promise<RateDecision> {
  const at = now ?? Date.now();
  const id = bucket.join("\u0000");
  const run = (turns.get(id) ?? Promise.resolve()).then(() =>
    hit(kv, id, bucket, limit, windowMs, at)
  );
  const settled = run.catch(() => {});
  turns.set(id, settled);
  settled.then(() => {
    if (turns.get(id) === settled) turns.delete(id);
  });

  const windowStart = Math.floor(at / windowMs) * windowMs;
  const last = written.get(kv)?.get(id);
  let behind = unwritten.get(kv);
  if (!behind) unwritten.set(kv, behind = new Map());
  const counted = (last?.value ?? 0) + (behind.get(id) ?? 0);
  if (
    limit < FAST_FROM_LIMIT || last?.windowStart !== windowStart || behind.has(id) ||
    counted + 1 > limit * 0.8
  ) {
    return run;
  }
  // Sure to be allowed: answered now, counted behind.
  const queue = behind;
  queue.set(id, (queue.get(id) ?? 0) + 1);
  settled.then(() => {
    const left = (queue.get(id) ?? 1) - 1;
    if (left > 0) queue.set(id, left);
    else queue.delete(id);
  });
  return Promise.resolve({
    allowed: true,
    limit,
    remaining: limit - counted - 1,
    retryAfterSeconds: Math.max(1, Math.ceil((windowStart + windowMs - at) / 1000)),
  });
}

async function hit(
  kv: Deno.Kv,
  id: string,
  bucket: string[],
  limit: number,
  windowMs = 60_000,
  now: number,
): Promise<RateDecision> {
  const windowStart = Math.floor(now / windowMs) * windowMs;
  const key = ["ratelimit", ...bucket, windowStart];
  const retryAfterSeconds = Math.max(1, Math.ceil((windowStart + windowMs - now) / 1000));
  let remembered = written.get(kv);
  if (!remembered) written.set(kv, remembered = new Map());
  const last = remembered.get(id);
  // The first guess: what this process wrote in this window, or (a new window) no entry yet.
  // Counts only grow within a window, so a remembered count at the limit is a sure refusal.
  let guess: { value: number | null; versionstamp: string | null } | null =
    last?.windowStart === windowStart ? last : { value: null, versionstamp: null };
  for (let attempt = 0; attempt < 50; attempt++) {
    const current = guess ?? await kv.get<number>(key);
    const count = current.value ?? 0;
    if (count >= limit) return { allowed: false, limit, remaining: 0, retryAfterSeconds };
    const res = await kv.atomic().check({ key, versionstamp: current.versionstamp })
      .set(key, count + 1, { expireIn: windowMs * 2 }).commit();
    if (res.ok) {
      if (remembered.size >= MAX_REMEMBERED) remembered.clear();
      remembered.set(id, { windowStart, value: count + 1, versionstamp: res.versionstamp });
      return { allowed: true, limit, remaining: limit - count - 1, retryAfterSeconds };
    }
    if (guess) {
      // Another process wrote since: read the key, without waiting first.
      guess = null;
      continue;
    }
    await new Promise((r) => setTimeout(r, Math.random() * 5 * (attempt + 1)));
  }
  // Extreme contention on one key: refusing is the safe answer.
  return { allowed: false, limit, remaining: 0, retryAfterSeconds };
}
