/**
 * The status of a payment on the page Paynow sends the payer back to: follows it live until it
 * settles, so the payer sees "paid" the moment it is, without reloading.
 */
import { useEffect, useState } from "preact/hooks";
import { formatCount } from "../lib/format.ts";
import { isFinal, type PaymentStatus as Status } from "../lib/payments/vocabulary.ts";

export interface PaymentStatusProps {
  paymentId: string;
  status: Status;
  tokens: number;
}

const TEXT: Record<Status, string> = {
  created: "Starting your payment…",
  sent: "Waiting for Paynow to confirm your payment…",
  paid: "Payment received. Your tokens are in your wallet.",
  cancelled: "The payment was cancelled. Nothing was charged.",
  failed: "The payment did not go through. Nothing was charged.",
  expired: "The payment was not completed in time. Nothing was charged.",
};

export default function PaymentStatus({ paymentId, status: initial, tokens }: PaymentStatusProps) {
  const [status, setStatus] = useState<Status>(initial);

  useEffect(() => {
    if (isFinal(status)) return;
    const timer = setInterval(async () => {
      try {
        const res = await fetch(`/pay/status/${paymentId}`, {
          headers: { accept: "application/json" },
        });
        if (res.ok) setStatus((await res.json()).status);
      } catch { /* offline for a moment: the next tick tries again */ }
    }, 2_000);
    return () => clearInterval(timer);
  }, [status]);

  return (
    <section class={`payment payment-${status}`} aria-live="polite">
      <p data-testid="payment-status" data-status={status}>{TEXT[status] ?? status}</p>
      {status === "paid" && <p>{formatCount(tokens)} tokens added.</p>}
      {!isFinal(status) && (
        <p>
          <small>This page updates by itself.</small>
        </p>
      )}
      <p>
        <a href="/account">Go to your account</a>
      </p>
    </section>
  );
}
