/**
 * Leases on recorded work (a phone's replies and sends, a notification delivery, a grievance
 * task): short, and renewed while the work runs. A worker that dies holds its work for at most
 * {@link LEASE_MS}; the reconciler, ticking every 10–15 s on every instance, then hands it to a
 * live one, so a dead instance's work resumes within a minute. A long piece of work (an AI
 * answer) keeps its lease by renewing it every {@link RENEW_EVERY_MS}, three times per lease, so
 * one slow renewal does not lose it.
 */
import type { Logger } from "../observability/log.ts";

/** How long a lease lasts unless renewed. */
export const LEASE_MS = 30_000;
/** How often running work renews its lease. */
export const RENEW_EVERY_MS = 10_000;

/**
 * Runs `work`, calling `renew` every `everyMs` until it settles. `renew` answers false when the
 * lease was lost meanwhile (the worker was taken for dead): that is logged, and the work goes on
 * (what it records is keyed so that a second worker's record does not double it).
 *
 * @example
 * await whileRenewing(() => lease.renew(), () => answerAll(phone), { log });
 */
export async function whileRenewing<T>(
  renew: () => Promise<boolean>,
  work: () => Promise<T>,
  options: { log?: Logger; what?: string; everyMs?: number } = {},
): Promise<T> {
  let renewing: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (renewing) return; // the previous renewal is still waiting for the database
    renewing = renew().then((held) => {
      if (!held) options.log?.warn("lease lost while working", { what: options.what });
    }).catch((error) => options.log?.warn("lease renewal failed", { what: options.what, error }))
      .finally(() => renewing = null);
  }, options.everyMs ?? RENEW_EVERY_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    await renewing;
  }
}
