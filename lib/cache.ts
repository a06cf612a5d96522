/**
 * A value read from the database and kept for `ttlMs`, refreshed ahead of time: a caller finding
 * it past half its life gets it at once while a fresh read starts in the background; only a value
 * past its whole life (nobody asked for that long) is waited for. A change is seen within `ttlMs`
 * as before, but a steady stream of requests never waits on the read: the settings, AI
 * configuration and tier caches would otherwise each put a query in front of one request in
 * every few dozen, which shows in the slowest requests.
 */
export interface RefreshAhead<T> {
  get(): Promise<T>;
  /** Forgets the value: the next `get` reads afresh. */
  invalidate(): void;
}

export function refreshAhead<T>(
  load: () => Promise<T>,
  ttlMs: number,
  clock: () => number = Date.now,
): RefreshAhead<T> {
  let current: { at: number; value: Promise<T> } | undefined;
  let refreshing = false;
  return {
    get() {
      const now = clock();
      if (!current || now - current.at > ttlMs) {
        current = { at: now, value: load() };
        return current.value;
      }
      if (!refreshing && now - current.at > ttlMs / 2) {
        refreshing = true;
        const kept = current;
        load().then((value) => {
          // Unless invalidated (or replaced) meanwhile.
          if (current === kept) current = { at: now, value: Promise.resolve(value) };
        }, () => {
          // The value in hand stays until its life ends; the next read then reports the error.
        }).finally(() => refreshing = false);
      }
      return current.value;
    },
    invalidate() {
      current = undefined;
    },
  };
}
