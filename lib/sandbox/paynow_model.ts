/**
 * The fake Paynow's vocabulary (paynow.ts): Paynow's test-mode numbers, the behaviours a test can
 * ask for, what the fake records, and the small helpers of its pages and answers.
 */
/** What happens to an express payment: a status after a delay, or an initiation error. */
export type FakeRule = { status: string; afterMs: number } | { error: string };

/** Paynow's test-mode phone numbers, delays in real time. */
export const TEST_MODE_PHONES: Readonly<Record<string, FakeRule>> = {
  "0771111111": { status: "Paid", afterMs: 5_000 },
  "0772222222": { status: "Paid", afterMs: 30_000 },
  "0773333333": { status: "Cancelled", afterMs: 30_000 },
  "0774444444": { error: "Insufficient balance" },
};

/** A test number and what the sandbox's Paynow does with it, in words for a person. */
export interface TestModePhone {
  phone: string;
  outcome: string;
}

/** {@link TEST_MODE_PHONES} in words (the sandbox's top-up form lists them). */
export function describeTestModePhones(): TestModePhone[] {
  return Object.entries(TEST_MODE_PHONES).map(([phone, rule]) => ({
    phone,
    outcome: "error" in rule
      ? `refused: ${rule.error.toLowerCase()}`
      : `${rule.status.toLowerCase()} after ${rule.afterMs / 1000} s`,
  }));
}

export interface FakePaynowBehaviour {
  /** Never deliver result POSTs (they are still listed in `resultPosts`, as `lost`). */
  loseResultPosts: boolean;
  /** Extra copies of every result POST, sent at the same time as the genuine one. */
  duplicateResultPosts: number;
  /** Before every genuine result POST, send a forged one claiming `Paid` with a wrong hash. */
  forgeResultPosts: boolean;
  /** Answer with capitalised keys (`Status=Ok&Pollurl=…`), as some old integrations see. */
  capitaliseKeys: boolean;
  /**
   * Real milliseconds (not scaled) to wait before answering an initiation, after the
   * transaction exists: makes a client time out and lose the answer.
   */
  initiateReplyDelayMs: number;
  /** Deliveries of one result POST before giving up (Paynow: up to 10). */
  resultPostAttempts: number;
  /** Wait between result POST deliveries, before `timeScale`. */
  resultRetryDelayMs: number;
}

export interface FakePaynowOptions {
  /** Integration id → integration key. Every request is checked against its integration. */
  integrations: Record<string, string>;
  /** Multiplies every simulated delay (0.01 → the 5 s test number pays in 50 ms). Default 1. */
  timeScale?: number;
  hostname?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Base of the poll and browser URLs it hands out, when reached through a proxy. */
  publicUrl?: string;
  /** Rules by local phone number, merged over {@link TEST_MODE_PHONES}. */
  phones?: Record<string, FakeRule>;
  /** Rule for any other number; default none: the payment stays `Sent` until `complete()`. */
  otherPhones?: FakeRule;
  behaviour?: Partial<FakePaynowBehaviour>;
  /** Recorded requests and result POSTs kept (oldest dropped first). Default 10,000 each. */
  maxRecords?: number;
}

export interface FakePayment {
  integrationId: string;
  kind: "web" | "express";
  reference: string;
  /** Two decimals, as Paynow echoes it. */
  amount: string;
  additionalInfo: string;
  authEmail: string;
  returnUrl: string;
  resultUrl: string;
  merchantTrace?: string;
  phone?: string;
  method?: string;
  paynowReference: string;
  pollUrl: string;
  browserUrl?: string;
  status: string;
  history: Array<{ status: string; at: number }>;
}

export interface FakeRequest {
  at: number;
  method: string;
  /** Path as requested (Paynow's paths are case-insensitive). */
  path: string;
  /** Raw body. */
  body: string;
  /** Decoded fields in order. */
  fields: Array<[string, string]>;
  /** Lower-cased name → value. */
  values: Record<string, string>;
  /** The answer's `status` (`Ok`, `Error`, `Paid` …) or the HTTP status for pages; "" until sent. */
  answered: string;
  /** The answer's body. */
  reply: string;
}

export interface FakeResultPost {
  at: number;
  url: string;
  reference: string;
  status: string;
  body: string;
  forged: boolean;
  lost: boolean;
  /** 0 for the genuine POST, 1… for duplicates. */
  copy: number;
  attempt: number;
  /** The merchant's HTTP status, or the network error. */
  httpStatus?: number;
  error?: string;
}

export interface FakePaynow {
  url: string;
  readonly requests: FakeRequest[];
  readonly resultPosts: FakeResultPost[];
  /** Every payment, oldest first. */
  readonly payments: FakePayment[];
  /** The latest payment with this merchant reference (of one integration if given). */
  payment(reference: string, integrationId?: string): FakePayment | undefined;
  /**
   * Moves a payment to `status` (default `Paid`), as the payer (web page) or Paynow would, and
   * sends the result POSTs. Resolves when those deliveries are over.
   */
  complete(reference: string, status?: string, integrationId?: string): Promise<void>;
  /** Sends one result POST for the payment now; `forged` signs it with a wrong key. */
  postResult(
    reference: string,
    options?: { forged?: boolean; status?: string; integrationId?: string },
  ): Promise<void>;
  setBehaviour(behaviour: Partial<FakePaynowBehaviour>): void;
  /** Resolves when no result POST is being delivered and no retry is waiting. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_BEHAVIOUR: FakePaynowBehaviour = {
  loseResultPosts: false,
  duplicateResultPosts: 0,
  forgeResultPosts: false,
  capitaliseKeys: false,
  initiateReplyDelayMs: 0,
  resultPostAttempts: 10,
  resultRetryDelayMs: 5_000,
};

export const EXPRESS_METHODS = ["ecocash", "onemoney", "innbucks"];
export type Fields = Array<[string, string]>;

/** `0771111111`, `+263771111111`, `263 77 111 1111` → `0771111111`; undefined if not a mobile. */
export function localPhone(phone: string): string | undefined {
  const digits = phone.replace(/[\s\-+]/g, "");
  const national = digits.startsWith("263") ? digits.slice(3) : digits.replace(/^0/, "");
  return /^7\d{8}$/.test(national) ? `0${national}` : undefined;
}

export function instructionsFor(method: string, phone: string): string {
  switch (method) {
    case "ecocash":
      return `Dial *151*2*4# on ${phone} and enter your EcoCash PIN to approve the payment.`;
    case "onemoney":
      return `Approve the OneMoney prompt sent to ${phone} with your PIN.`;
    default:
      return "Open the InnBucks app and enter the authorisation code to pay.";
  }
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
