/**
 * npm `autocannon`, the benches' load generator in their own process, typed for the part they use
 * (the package ships no types) and run as a promise.
 */
import autocannon from "autocannon";

export interface LoadOptions {
  url: string;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  connections: number;
  /** Seconds. */
  duration: number;
  /** Stop after this many requests instead of after `duration`. */
  amount?: number;
  /** Seconds before a request counts as timed out. */
  timeout: number;
  /** Each request's own setup, e.g. the next of a set of signed bodies. */
  requests?: {
    method: "GET" | "POST";
    setupRequest(request: Record<string, unknown>): Record<string, unknown>;
  }[];
}

export interface LoadResult {
  /** Measured seconds. */
  duration: number;
  "2xx": number;
  non2xx: number;
  errors: number;
  timeouts: number;
  throughput: { total: number };
}

type Autocannon = (
  options: LoadOptions,
  done: (error: Error | null, result: LoadResult) => void,
) => {
  on(
    event: "response",
    listener: (client: unknown, status: number, bytes: number, ms: number) => void,
  ): void;
};

/**
 * One run. `onResponse` sees every response with its latency in fractional ms (autocannon's own
 * histogram keeps whole milliseconds, too coarse for a sub-ms p50).
 */
export function runLoad(
  options: LoadOptions,
  onResponse?: (status: number, bytes: number, ms: number) => void,
): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const tracker = (autocannon as unknown as Autocannon)(
      options,
      (error, result) => error ? reject(error) : resolve(result),
    );
    if (onResponse) {
      tracker.on("response", (_client, status, bytes, ms) => onResponse(status, bytes, ms));
    }
  });
}
