import assert from "node:assert/strict";
import { withDatabase } from "../../tests/harness.ts";
import { type HubEvent, startEventHub } from "../events.ts";
import { memoryLogger } from "../observability/log.ts";
import { announce, PAYMENT_SETTLED, paymentSettledOf, publishPaymentUpdated } from "./events.ts";
import type { Payment } from "./model.ts";

const payment = (over: Partial<Payment>): Payment => ({
  id: crypto.randomUUID(),
  userId: crypto.randomUUID(),
  packageId: crypto.randomUUID(),
  tokens: 5_000,
  currency: "USD",
  amount: "1.00",
  method: "ecocash",
  phone: "+263771111111",
  channel: "whatsapp",
  reference: "HK1",
  status: "sent",
  browserUrl: null,
  instructions: null,
  error: null,
  flag: null,
  credited: false,
  expiresAt: new Date(),
  createdAt: new Date(),
  settledAt: null,
  ...over,
});

Deno.test("payment.settled: credited or ended unpaid; never for a refusal at the start or an amount flagged", async () => {
  await withDatabase(async (db) => {
    const log = memoryLogger("warn");
    const hub = await startEventHub(db, log);
    const heard: HubEvent[] = [];
    hub.observe((e) => heard.push(e));
    try {
      const paid = payment({ status: "paid", credited: true });
      const expired = payment({ status: "expired" });
      const refused = payment({ status: "failed", error: "Insufficient balance" });
      const mismatch = payment({ status: "paid", flag: "amount_mismatch" });
      const pending = payment({ status: "sent" });
      await announce({ db, log }, paid, { balance: 7_500 });
      await announce({ db, log }, expired, null);
      await announce({ db, log }, mismatch, null);
      await announce({ db, log }, pending, null);
      await publishPaymentUpdated(db, refused);
      const until = Date.now() + 5_000;
      while (heard.filter((e) => e.type === "payment.updated").length < 5 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, 100));
      const settled = heard.map(paymentSettledOf).filter((s) => s !== null);
      assert.deepEqual(settled.map((s) => [s.id, s.status, s.balance]), [
        [paid.id, "paid", 7_500],
        [expired.id, "expired", null],
      ]);
      assert.ok(
        heard.every((e) => e.type !== PAYMENT_SETTLED || e.userId === null),
        "a product event",
      );
      assert.equal(heard.filter((e) => e.type === "payment.updated").length, 5, "screens hear all");
      assert.equal(heard.filter((e) => e.type === "wallet.updated").length, 1);
    } finally {
      await hub.close();
    }
  });
});
