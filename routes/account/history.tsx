/** The account page's payment history (with statuses) and usage (each answer's cost). */
import type { Format } from "../../lib/format.ts";
import { METHOD_NAMES, type Payment, STATUS_NAMES } from "../../lib/payments/mod.ts";
import type { UsageLine } from "../../lib/wallet/usage.ts";
import type { ComponentChildren } from "preact";
import { DataTable } from "../_table.tsx";
import { AccountSection } from "./_section.tsx";

/** One of the account page's histories: its table, or a line saying it is empty. */
function HistorySection(props: {
  id: string;
  title: string;
  empty: string | null;
  children: ComponentChildren;
}) {
  return (
    <AccountSection id={props.id} title={props.title}>
      {props.empty === null ? props.children : <p class="muted">{props.empty}</p>}
    </AccountSection>
  );
}

/** The account page's two histories: its payments, then what each answer cost. */
export function Histories(props: { payments: Payment[]; usage: UsageLine[]; format: Format }) {
  const { payments, usage, format } = props;
  return (
    <>
      <HistorySection
        id="payments"
        title="Payments"
        empty={payments.length === 0 ? "No payments yet." : null}
      >
        <DataTable
          label="Your payments"
          testId="payments"
          columns={["When", "Tokens", "Amount", "Paid with", "Status"]}
        >
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
        </DataTable>
      </HistorySection>
      <HistorySection
        id="usage"
        title="Usage"
        empty={usage.length === 0 ? "No answers paid for yet." : null}
      >
        <DataTable label="What your answers cost" testId="usage" columns={["When", "What", "Cost"]}>
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
        </DataTable>
      </HistorySection>
    </>
  );
}
