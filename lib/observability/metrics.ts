/**
 * Prometheus metrics (npm `prom-client`). One registry per running app, so tests that start
 * several apps in one process do not share counters.
 */
import client from "prom-client";

export interface AppMetrics {
  registry: client.Registry;
  httpRequests: client.Counter<"method" | "route" | "status">;
  httpDuration: client.Histogram<"method" | "route">;
}

export function createMetrics(): AppMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: "hurukuro_" });
  return {
    registry,
    httpRequests: new client.Counter({
      name: "hurukuro_http_requests_total",
      help: "HTTP requests answered, by route pattern and status",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    httpDuration: new client.Histogram({
      name: "hurukuro_http_request_duration_seconds",
      help: "Time to answer HTTP requests, by route pattern",
      labelNames: ["method", "route"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}
