/** The account page's payment history (with statuses) and usage (each answer's cost). */
import type { Format } from "../../lib/format.ts";
import { METHOD_NAMES, type Payment, STATUS_NAMES } from "../../lib/payments/mod.ts";
import type { UsageLine } from "../../lib/wallet/usage.ts";
import { ScrollTable } from "../_table.tsx";

export function PaymentHistory(props: { payments: Payment[]; format: Format }) {
  const { payments, format } = props;
  return (
    <section aria-labelledby="payments-title" id="payments">
      <h2 id="payments-title">Payments</h2>
      {payments.length === 0
        ? <p class="muted">No payments yet.</p>
        : (
          <ScrollTable label="Your payments">
            <table data-testid="payments">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Tokens</th>
                  <th scope="col">Amount</th>
                  <th scope="col">Paid with</th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {payments.map((p) => (
                  <tr>
                    <td>
                      <time dateTime={p.createdAt.toISOString()}>
                        {format.dateTime(p.createdAt)}
                      </time>
                    </td>
                    <td class="num">{format.count(p.tokens)}</td>
                    <td class="num">{format.money(p.currency, p.amount)}</td>
                    <td>{METHOD_NAMES[p.method]}</td>
                    <td>
                      <span class={`pay-status pay-status-${p.status}`}>
                        {STATUS_NAMES[p.status]}
                      </span>
                      {p.status === "sent" && (
                        <>
                          {" "}
                          <a href={`/pay/return?payment=${p.id}`}>follow</a>
                        </>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </ScrollTable>
        )}
    </section>
  );
}

export function UsageHistory(props: { usage: UsageLine[]; format: Format }) {
  const { usage, format } = props;
  return (
    <section aria-labelledby="usage-title" id="usage">
      <h2 id="usage-title">Usage</h2>
      {usage.length === 0
        ? <p class="muted">No answers paid for yet.</p>
        : (
          <ScrollTable label="What your answers cost">
            <table data-testid="usage">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">What</th>
                  <th scope="col">Cost</th>
                </tr>
              </thead>
              <tbody>
                {usage.map((u) => (
                  <tr>
                    <td>
                      <time dateTime={u.at.toISOString()}>{format.dateTime(u.at)}</time>
                    </td>
                    <td>
                      {u.description}
                      {u.conversationTitle && <span class="muted">: {u.conversationTitle}</span>}
                    </td>
                    <td class="num">{format.count(u.cost)} tokens</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </ScrollTable>
        )}
    </section>
  );
}
