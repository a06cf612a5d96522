/**
 * Starting a payment: the row first (so nothing Paynow knows of is ever unknown to us), then
 * Paynow's checkout, web (a page to send the payer to) or express (a prompt pushed to their
 * phone). A retried request with the same idempotency key returns the first payment.
 */
import { getSetting } from "../accounts/settings.ts";
import type { Channel } from "../channels.ts";
import { isUniqueViolation } from "../db/errors.ts";
import { AppError } from "../errors.ts";
import { formatAmount, parseZimbabweMobile, PaynowError } from "../paynow/mod.ts";
import { publishPaymentUpdated } from "./events.ts";
import { pollDelaySeconds, queuePollTick } from "./jobs.ts";
import {
  offeredCurrencies,
  type Payment,
  type PaymentRow,
  type Payments,
  recordEvent,
  toPayment,
} from "./model.ts";
import { getPackage } from "./packages.ts";
import type { Currency, PaymentMethod } from "./vocabulary.ts";

export interface StartPayment {
  userId: string;
  packageId: string;
  method: PaymentMethod;
  currency?: Currency;
  phone?: string;
  channel?: Channel;
  idempotencyKey?: string;
}

/** `HK` + time + randomness: unique, ≤ 32 characters (Paynow's merchant trace limit). */
function newReference(): string {
  const random = crypto.getRandomValues(new Uint8Array(6));
  return `HK${Date.now().toString(36).toUpperCase()}${
    Array.from(random, (b) => b.toString(36).padStart(2, "0")).join("").toUpperCase()
  }`;
}

/**
 * Creates the payment and initiates it with Paynow. A refusal by Paynow (e.g. "Insufficient
 * balance") leaves the payment `failed` with Paynow's words in `error`: nothing stays pending.
 */
export async function startPayment(deps: Payments, input: StartPayment): Promise<Payment> {
  const sql = deps.db.sql;
  const byKey = async () => {
    const [row] = await sql<PaymentRow[]>`select * from payments
      where user_id = ${input.userId} and idempotency_key = ${input.idempotencyKey ?? null}`;
    return row ? toPayment(row) : null;
  };
  if (input.idempotencyKey) {
    const existing = await byKey();
    if (existing) return existing;
  }
  const currencies = offeredCurrencies(deps.paynow);
  const currency = input.currency ?? (currencies.includes("USD") ? "USD" : currencies[0]);
  const client = currency && deps.paynow.clients[currency];
  if (!client) {
    throw new AppError(
      "validation_failed",
      `Payments in ${input.currency ?? "any currency"} are not available.`,
      { field: "currency" },
    );
  }
  const pkg = await getPackage(sql, input.packageId, currencies);
  const price = pkg?.prices[currency];
  if (!pkg || !pkg.active || !price) {
    throw new AppError("validation_failed", "This package cannot be bought.", {
      field: "packageId",
    });
  }
  let phone: { e164: string; local: string } | null = null;
  if (input.method !== "web") {
    const parsed = parseZimbabweMobile(input.phone ?? "");
    if (!parsed.ok) {
      throw new AppError("validation_failed", `phone: ${parsed.message}`, { field: "phone" });
    }
    phone = parsed;
  }

  const expiryMinutes = await getSetting(sql, "payment_expiry_minutes");
  const reference = newReference();
  let row: PaymentRow;
  try {
    [row] = await sql<PaymentRow[]>`
      insert into payments (user_id, package_id, tokens, currency, amount, method, phone, channel,
                            reference, idempotency_key, expires_at, next_poll_at)
      values (${input.userId}, ${pkg.id}, ${pkg.tokens}, ${currency}, ${price}, ${input.method},
              ${phone?.e164 ?? null}, ${input.channel ?? "web"}, ${reference},
              ${input.idempotencyKey ?? null}, now() + ${expiryMinutes} * interval '1 minute',
              now() + interval '2 minutes')
      returning *`;
  } catch (error) {
    // Two requests with the same idempotency key raced: the other one's payment is the answer.
    if (isUniqueViolation(error) && input.idempotencyKey) {
      const existing = await byKey();
      if (existing) return existing;
    }
    throw error;
  }
  const payment = toPayment(row);
  const publicUrl = deps.publicUrl();
  const common = {
    reference,
    amount: formatAmount(price),
    additionalInfo: `${pkg.name}: ${pkg.tokens} Hurukuro tokens`,
    returnUrl: `${publicUrl}/pay/return?payment=${payment.id}`,
    resultUrl: `${publicUrl}/api/paynow/result`,
  };
  try {
    const initiated = input.method === "web"
      ? await client.initiateWeb({ ...common, authEmail: deps.paynow.authEmail })
      : await client.initiateExpress({
        ...common,
        authEmail: deps.paynow.authEmail,
        phone: phone!.local,
        method: input.method,
      });
    const [updated] = await sql.begin(async (tx) => {
      await recordEvent(tx, payment.id, {
        source: "initiate",
        raw: initiated.message.raw,
        paynowStatus: "Ok",
        from: "created",
        to: "sent",
        note: initiated.recovered ? "initiation answer lost; recovered by trace" : undefined,
      });
      return await tx<PaymentRow[]>`
        update payments set status = 'sent', poll_url = ${initiated.pollUrl},
          paynow_reference = ${initiated.paynowReference ?? null},
          browser_url = ${"browserUrl" in initiated ? initiated.browserUrl ?? null : null},
          instructions = ${"instructions" in initiated ? initiated.instructions ?? null : null},
          next_poll_at = now() + ${pollDelaySeconds(0)} * interval '1 second', updated_at = now()
        where id = ${payment.id} and status = 'created'
        returning *`;
    });
    await queuePollTick(deps.jobs, updated.next_poll_at!);
    deps.log.info("payment started", {
      paymentId: payment.id,
      method: input.method,
      phone: phone?.e164,
    });
    return toPayment(updated);
  } catch (error) {
    if (
      error instanceof PaynowError &&
      (error.code === "rejected" || error.transactionCreated === false)
    ) {
      return await refused(deps, payment, error);
    }
    // Unknown whether Paynow created it: the payment stays `created` and the poller traces it.
    deps.log.error("payment initiation uncertain; will trace", { paymentId: payment.id, error });
    const [traceAt] = await sql<{ next_poll_at: Date }[]>`
      update payments set next_poll_at = now() + interval '10 seconds', updated_at = now()
      where id = ${payment.id} and status = 'created'
      returning next_poll_at`;
    if (traceAt) await queuePollTick(deps.jobs, traceAt.next_poll_at);
    return payment;
  }
}

/** Paynow refused the payment, or was not reached before it created anything: `failed`. */
async function refused(deps: Payments, payment: Payment, error: PaynowError): Promise<Payment> {
  const message = error.code === "rejected"
    ? `Paynow could not start the payment: ${error.paynowError ?? error.message}`
    : "Paynow could not be reached. Nothing was charged; please try again.";
  const [row] = await deps.db.sql.begin(async (tx) => {
    await recordEvent(tx, payment.id, {
      source: "initiate",
      raw: error.paynowError ?? null,
      paynowStatus: "Error",
      from: "created",
      to: "failed",
      note: error.message,
    });
    return await tx<PaymentRow[]>`
      update payments set status = 'failed', error = ${message}, next_poll_at = null,
        settled_at = now(), updated_at = now()
      where id = ${payment.id} returning *`;
  });
  const failed = toPayment(row);
  await publishPaymentUpdated(deps.db, failed)
    .catch((error) => deps.log.error("payment announcement failed", { error }));
  deps.log.warn("payment refused at initiation", { paymentId: payment.id, error: error.message });
  return failed;
}
