/** The account page's balance and plan: the tier's per-minute limit and its daily cap today. */
import type { DailyAllowance, Tier } from "../../lib/accounts/tiers.ts";
import type { Format } from "../../lib/format.ts";

export function BalanceSection(props: { available: number; format: Format }) {
  return (
    <section class="card" aria-labelledby="balance-title">
      <h2 id="balance-title">Balance</h2>
      <p class="big">
        <strong data-testid="balance">{props.format.count(props.available)}</strong> tokens
      </p>
      <p>
        <a href="#top-up">Buy tokens</a>
      </p>
    </section>
  );
}

export function PlanSection(props: { tier: Tier; allowance: DailyAllowance; format: Format }) {
  const { tier, allowance, format } = props;
  const name = tier.name.charAt(0).toUpperCase() + tier.name.slice(1);
  return (
    <section class="card" aria-labelledby="plan-title" data-testid="plan">
      <h2 id="plan-title">Plan: {name}</h2>
      <dl class="facts">
        <dt>Requests</dt>
        <dd>up to {format.count(tier.requestsPerMinute)} a minute</dd>
        <dt>Daily cap</dt>
        {allowance.left === null ? <dd>none: spend as much of your balance as you like</dd> : (
          <>
            <dd data-testid="daily-cap">{format.count(allowance.cap)} tokens a day</dd>
            <dt>Used today</dt>
            <dd data-testid="used-today">{format.count(allowance.used)} tokens</dd>
            <dt>Left today</dt>
            <dd data-testid="left-today">{format.count(allowance.left)} tokens</dd>
            <dt>Resets</dt>
            <dd data-testid="cap-resets">
              <time dateTime={allowance.resetsAt.toISOString()}>
                {format.dateTime(allowance.resetsAt)}
              </time>
            </dd>
          </>
        )}
      </dl>
    </section>
  );
}
