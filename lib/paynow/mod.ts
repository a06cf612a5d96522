/**
 * Paynow, the Zimbabwean payment gateway: our upstream client. It imports nothing else of ours,
 * so it can be read, tested and replaced on its own. See docs/payments.md.
 */
export {
  type CheckoutRequest,
  EXPRESS_METHODS,
  type ExpressCheckoutRequest,
  type ExpressInitiated,
  type ExpressMethod,
  formatAmount,
  type Initiated,
  parseStatusMessage,
  PAYNOW_BASE_URL,
  PaynowClient,
  type PaynowClientOptions,
  type PaynowStatus,
  type WebInitiated,
} from "./client.ts";
export { PaynowError, type PaynowErrorCode } from "./errors.ts";
export { type PaynowFields, paynowHash, signFields, verifyPaynowHash } from "./hash.ts";
export { encodeMessage, parseMessage, type PaynowMessage } from "./message.ts";
export { isFinalOutcome, type PaynowOutcome, paynowOutcome } from "./status.ts";
export {
  parseZimbabweMobile,
  type PhoneResult,
  type ZimbabweMobile,
  type ZimbabweNetwork,
} from "./phone.ts";
