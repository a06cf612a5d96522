/**
 * `wallet.sweep_reservations`, every minute: releases reservations left open past their
 * deadline (a request that crashed mid-stream), so held tokens return to the user.
 */
import { defineCron } from "../lib/jobs/types.ts";
import { sweepExpired } from "../lib/wallet/reservations.ts";

export const walletSweepCron = defineCron({
  name: "wallet.sweep_reservations",
  schedule: "* * * * *",
  async run(ctx) {
    const released = await sweepExpired(ctx.db.sql);
    if (released > 0) ctx.log.warn("expired reservations released", { count: released });
  },
});
