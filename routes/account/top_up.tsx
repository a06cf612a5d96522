/** The account page's top-up form (`#top-up`, where a 402 points): package, currency, method. */
import type { Format } from "../../lib/format.ts";
import {
  type Currency,
  EXPRESS_METHODS,
  METHOD_NAMES,
  type TokenPackage,
} from "../../lib/payments/mod.ts";
import { randomToken } from "../../lib/security/tokens.ts";
import type { TestModePhone } from "../../lib/sandbox/paynow_model.ts";
import { PhoneInput } from "./_phone_input.tsx";
import { AccountSection } from "./_section.tsx";

/** Mobile money first (most payers), then Paynow's own page. */
const METHODS = [...EXPRESS_METHODS, "web" as const].map((m) => [m, METHOD_NAMES[m]] as const);

export function TopUpSection(props: {
  csrf: string;
  packages: TokenPackage[];
  currencies: Currency[];
  format: Format;
  problem?: string;
  values: Record<string, string>;
  phone: string | null;
  /** The sandbox's Paynow test numbers, listed while Paynow is sandboxed. */
  testPhones?: TestModePhone[];
}) {
  const { packages, currencies, format, values } = props;
  return (
    <AccountSection id="top-up" title="Buy tokens">
      {packages.length === 0
        ? <p>Payments are not available right now.</p>
        : (
          <form method="post" action="/account/top-up" class="stack narrow">
            <input type="hidden" name="_csrf" value={props.csrf} />
            <input type="hidden" name="nonce" value={randomToken(24)} />
            {props.problem && (
              <p role="alert" class="form-error" data-testid="top-up-error">{props.problem}</p>
            )}
            <fieldset class="choices">
              <legend>Package</legend>
              {packages.map((p, i) => (
                <label class="choice">
                  <input
                    type="radio"
                    name="packageId"
                    value={p.id}
                    checked={values.packageId ? values.packageId === p.id : i === 0}
                  />
                  <span>
                    <strong>{p.name}</strong>: {format.count(p.tokens)} tokens for{" "}
                    {currencies.flatMap((cur) => {
                      const price = p.prices[cur];
                      return price ? [format.money(cur, price)] : [];
                    }).join(" or ")}
                  </span>
                </label>
              ))}
            </fieldset>
            {currencies.length > 1 && (
              <label>
                Currency
                <select name="currency">
                  {currencies.map((cur) => (
                    <option value={cur} selected={values.currency === cur}>{cur}</option>
                  ))}
                </select>
              </label>
            )}
            <label>
              Pay with
              <select name="method">
                {METHODS.map(([value, label]) => (
                  <option value={value} selected={values.method === value}>{label}</option>
                ))}
              </select>
            </label>
            <label>
              Mobile number that pays
              <PhoneInput value={values.phone ?? props.phone ?? ""} />
              <small>Not needed for the Paynow website.</small>
            </label>
            {props.testPhones && (
              <div class="notice" data-testid="test-phones">
                <p>Sandbox: Paynow's test numbers decide what happens (any other stays pending).</p>
                <ul>
                  {props.testPhones.map((t) => (
                    <li key={t.phone}>
                      <code>{t.phone}</code>: {t.outcome}
                    </li>
                  ))}
                </ul>
              </div>
            )}
            <button type="submit" class="primary">Buy tokens</button>
          </form>
        )}
    </AccountSection>
  );
}
