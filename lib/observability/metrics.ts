/**
 * Prometheus metrics (npm `prom-client`). One registry per running app, so tests that start
 * several apps in one process do not share counters.
 */
import client from "prom-client";

export interface JobMetrics {
  enqueued: client.Counter<"job">;
  succeeded: client.Counter<"job">;
  failed: client.Counter<"job">;
  retried: client.Counter<"job">;
  deadLettered: client.Counter<"job">;
  duration: client.Histogram<"job">;
  /** Reconciler sweeps that threw, by job type. */
  reconcileFailures: client.Counter<"job">;
}

export interface WhatsAppMetrics {
  /** Inbound messages refused at the webhook (answered 200, not stored for an answer). */
  quarantined: client.Counter<"provider" | "reason">;
}

export interface AppMetrics {
  registry: client.Registry;
  jobs: JobMetrics;
  whatsapp: WhatsAppMetrics;
  httpRequests: client.Counter<"method" | "route" | "status">;
  httpDuration: client.Histogram<"method" | "route">;
  /** Log-ins refused for a wrong e-mail or password (lib/accounts/login.ts). */
  loginFailures: client.Counter;
  /** Log-ins refused unchecked while an account's refusal window was open. */
  loginThrottled: client.Counter;
  /** A gauge read when scraped: `read` returns the value of the moment. */
  gauge(name: string, help: string, read: () => number): void;
}

export function createMetrics(): AppMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: "hurukuro_" });
  const jobCounter = (name: string, help: string) =>
    new client.Counter({ name, help, labelNames: ["job"], registers: [registry] });
  return {
    registry,
    jobs: {
      enqueued: jobCounter("hurukuro_jobs_enqueued_total", "Jobs queued"),
      succeeded: jobCounter("hurukuro_jobs_succeeded_total", "Job attempts that succeeded"),
      failed: jobCounter("hurukuro_jobs_failed_total", "Job attempts that threw"),
      retried: jobCounter("hurukuro_jobs_retried_total", "Failed attempts queued again"),
      deadLettered: jobCounter(
        "hurukuro_jobs_dead_lettered_total",
        "Jobs that exhausted retries, or whose payload was refused",
      ),
      reconcileFailures: jobCounter(
        "hurukuro_reconciler_failures_total",
        "Reconciler sweeps that failed (their overdue work was not re-queued)",
      ),
      duration: new client.Histogram({
        name: "hurukuro_job_duration_seconds",
        help: "Time a job attempt took",
        labelNames: ["job"],
        buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 15, 60],
        registers: [registry],
      }),
    },
    whatsapp: {
      quarantined: new client.Counter({
        name: "hurukuro_whatsapp_quarantined_total",
        help: "Inbound WhatsApp messages refused at the webhook (answered 200, not answered)",
        labelNames: ["provider", "reason"],
        registers: [registry],
      }),
    },
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
    loginFailures: new client.Counter({
      name: "hurukuro_login_failures_total",
      help: "Log-ins refused for a wrong e-mail or password",
      registers: [registry],
    }),
    loginThrottled: new client.Counter({
      name: "hurukuro_login_throttled_total",
      help: "Log-ins refused without a check: too many failures for that e-mail",
      registers: [registry],
    }),
    gauge(name, help, read) {
      new client.Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(read());
        },
      });
    },
  };
}
