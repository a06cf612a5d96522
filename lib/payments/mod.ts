/**
 * Payments: buying token packages with Paynow, followed to a final status, credited exactly once.
 *
 * - vocabulary.ts: statuses, methods, currencies (lists written once; browser-safe);
 * - model.ts: the payment and its row, the shared reads, `createPayments`;
 * - start.ts: the row, then Paynow's checkout (web or express);
 * - settle.ts: what Paynow says applied in one transaction (credit once), and expiry;
 * - poll.ts: the batched polling schedule;
 * - events.ts: what the rest of the product hears (`payment.updated`, `payment.settled`);
 * - cleanup.ts: the daily clean-up; jobs.ts: the job types; packages.ts: what can be bought.
 */
export * from "./vocabulary.ts";
export {
  createPayments,
  getPayment,
  getPaymentForUser,
  listPaymentsForUser,
  offeredCurrencies,
  type Payment,
  type PaymentDeps,
  type Payments,
  type PaynowGateway,
  POLL_IN_FLIGHT,
  toPayment,
} from "./model.ts";
export { type StartPayment, startPayment } from "./start.ts";
export { applyStatus, expirePayment, paymentForResult, type StatusReport } from "./settle.ts";
export {
  claimDuePolls,
  type ClaimedPoll,
  hasOverduePolls,
  POLL_BATCH_SIZE,
  pollClaimed,
  pollDuePayments,
  pollPayment,
} from "./poll.ts";
export { PAYMENT_SETTLED, PaymentSettled, paymentSettledOf } from "./events.ts";
export { cleanUpPayments, type CleanupReport } from "./cleanup.ts";
export { getPackage, listBuyablePackages, type TokenPackage } from "./packages.ts";
