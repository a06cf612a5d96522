/**
 * Linking a WhatsApp number from the account page (`#whatsapp`): the number gets a 6-digit code
 * over WhatsApp (lib/accounts/phone_link.ts, the API's /me/phone does the same), typed back here.
 */
import { z } from "zod";
import { confirmPhoneLink, startPhoneLink } from "../../lib/accounts/phone_link.ts";
import type { Format } from "../../lib/format.ts";
import { AppError } from "../../lib/errors.ts";
import { parseZimbabweMobile } from "../../lib/paynow/phone.ts";
import { textField } from "../../lib/text.ts";
import type { AppContext } from "../_context.ts";
import { firstProblem } from "../_form.ts";
import type { AccountPoster } from "./_form.ts";
import { problemStatus, refusal } from "./page.tsx";
import { PhoneInput } from "./_phone_input.tsx";
import { AccountForm, AccountSection } from "./_section.tsx";

const PhoneForm = z.object({ phone: textField().max(20, "a phone number is at most 20 digits") });
const CodeForm = z.object({ code: textField().trim().regex(/^\d{6}$/, "enter the 6-digit code") });

export function phoneForms(ctx: AppContext, post: AccountPoster) {
  post("/account/phone", async (c, { user, values }) => {
    const refuse = refusal(c, ctx, user, "phone", values);
    const parsed = PhoneForm.safeParse({ phone: "", ...values });
    if (!parsed.success) return refuse(firstProblem(parsed.error));
    const phone = parseZimbabweMobile(parsed.data.phone);
    if (!phone.ok) return refuse(phone.message);
    try {
      const { code } = await startPhoneLink(ctx.db.sql, user.id, phone.e164);
      await ctx.sendPhoneCode(phone.e164, code);
    } catch (error) {
      if (error instanceof AppError) return refuse(error.message, problemStatus(error));
      throw error;
    }
    return c.redirect("/account#whatsapp", 303);
  });

  post("/account/phone/verify", async (c, { user, values }) => {
    const refuse = refusal(c, ctx, user, "phoneCode", values);
    const parsed = CodeForm.safeParse({ code: "", ...values });
    if (!parsed.success) return refuse(firstProblem(parsed.error));
    try {
      await confirmPhoneLink(ctx.db.sql, user.id, parsed.data.code);
    } catch (error) {
      if (error instanceof AppError) return refuse(error.message, problemStatus(error));
      throw error;
    }
    return c.redirect("/account?done=phone#whatsapp", 303);
  });
}

export function PhoneSection(props: {
  csrf: string;
  linked: string | null;
  pending: { phone: string; expiresAt: Date } | null;
  format: Format;
  problem?: string;
  /** The problem is the code's (else the number's). */
  codeProblem: boolean;
  values: Record<string, string>;
}) {
  const { pending, format } = props;
  return (
    <AccountSection id="whatsapp" title="WhatsApp">
      {props.linked
        ? (
          <p data-testid="linked-phone">
            Linked number:{" "}
            <strong>{props.linked}</strong>. Messages from it use this account's tokens.
          </p>
        )
        : <p>Link your WhatsApp number to chat there with this account's tokens.</p>}
      {pending && (
        <AccountForm
          action="/account/phone/verify"
          csrf={props.csrf}
          problem={props.codeProblem && props.problem}
        >
          <label>
            Code sent to {pending.phone}
            <input
              name="code"
              inputMode="numeric"
              autocomplete="one-time-code"
              pattern="[0-9]{6}"
              maxLength={6}
              required
            />
            <small>It is good until {format.time(pending.expiresAt)}.</small>
          </label>
          <button type="submit" class="primary">Link this number</button>
        </AccountForm>
      )}
      <AccountForm
        action="/account/phone"
        csrf={props.csrf}
        problem={!props.codeProblem && props.problem}
      >
        <label>
          {props.linked ? "Link another number" : "WhatsApp number"}
          <PhoneInput value={props.values.phone ?? ""} required />
        </label>
        <button type="submit">{pending ? "Send a new code" : "Send me a code"}</button>
      </AccountForm>
    </AccountSection>
  );
}
