/**
 * The account page (`/account`) as one render: everything it shows is read here, and every form
 * of it (routes/account/*.tsx) answers a problem by rendering the page again with the problem
 * shown at its own form and what was typed kept.
 */
import type { Context } from "hono";
import { listApiKeys } from "../../lib/accounts/credentials.ts";
import { pendingPhoneLink } from "../../lib/accounts/phone_link.ts";
import { dailyAllowance } from "../../lib/accounts/tiers.ts";
import type { User } from "../../lib/accounts/users.ts";
import { createFormat } from "../../lib/format.ts";
import type { AppError } from "../../lib/errors.ts";
import { linkOfUser } from "../../lib/telegram/links.ts";
import {
  listBuyablePackages,
  listPaymentsForUser,
  offeredCurrencies,
} from "../../lib/payments/mod.ts";
import { getBalance } from "../../lib/wallet/ledger.ts";
import { listUsage } from "../../lib/wallet/usage.ts";
import { type AuthEnv, pageCsrfToken, staffHome } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { renderPage } from "../_render.tsx";
import { ApiKeysSection } from "./api_keys.tsx";
import { Histories } from "./history.tsx";
import { PhoneSection } from "./phone.tsx";
import { BalanceSection, PlanSection } from "./plan.tsx";
import { PasswordSection, ProfileSection } from "./profile.tsx";
import { TopUpSection } from "./top_up.tsx";
import { describeTestModePhones } from "../../lib/sandbox/paynow_model.ts";
import { TelegramLinkSection } from "../_telegram_link.tsx";

/** The page's forms, each shown with its own problem. */
export type AccountForm = "topUp" | "phone" | "phoneCode" | "apiKey" | "profile" | "password";

export interface AccountState {
  /** The form that was sent and what went wrong with it. */
  problem?: { form: AccountForm; message: string };
  /** The answer's status with a problem (400 unless said). */
  status?: 400 | 429;
  /** What was typed, shown again with a problem. */
  values?: Record<string, string>;
  /** A sentence saying what was just done (after a redirect: `?done=`). */
  notice?: string;
  /** A key just created: its secret is shown this once. */
  newKey?: { name: string; key: string };
  /** Linking Telegram: a code just made (shown this once), or why none was. */
  telegram?: { code?: string; problem?: string };
}

/** What `?done=` after a form's redirect says (a Map: `?done=constructor` says nothing). */
const DONE = new Map<string, string>(Object.entries({
  profile: "Your profile is saved.",
  password: "Your password is changed.",
  phone: "Your WhatsApp number is linked.",
  "key-revoked": "The API key is revoked: it no longer works.",
}));

export const doneNotice = (done: string | undefined) => (done ? DONE.get(done) : undefined);

/** The status a form's problem is answered with: a refusal for now is a 429, the rest a 400. */
export function problemStatus(error: AppError): 400 | 429 {
  return error.code === "rate_limited" ? 429 : 400;
}

/**
 * The answer to a problem with `form`: the page again with the message at that form, and what
 * was typed (`values`) kept.
 */
export const refusal = (
  c: Context<AuthEnv>,
  ctx: AppContext,
  user: User,
  form: AccountForm,
  values?: Record<string, string>,
) =>
(message: string, status?: 400 | 429) =>
  renderAccount(c, ctx, user, { problem: { form, message }, values, status });

export async function renderAccount(
  c: Context<AuthEnv>,
  ctx: AppContext,
  user: User,
  state: AccountState = {},
): Promise<Response> {
  const sql = ctx.db.sql;
  const format = createFormat(ctx.config.tzMetrics);
  const currencies = offeredCurrencies(ctx.payments.paynow);
  const tier = await ctx.chat.runtime.tiers(user.tier);
  const [wallet, packages, allowance, payments, usage, keys, pendingPhone, telegramLink, csrf] =
    await Promise.all([
      getBalance(sql, user.id),
      listBuyablePackages(sql, currencies),
      dailyAllowance(sql, { userId: user.id, tier, timeZone: format.timeZone }),
      listPaymentsForUser(sql, user.id, { limit: 20 }),
      listUsage(sql, user.id, 20),
      listApiKeys(sql, user.id),
      pendingPhoneLink(sql, user.id),
      ctx.telegram ? linkOfUser(sql, user.id) : null,
      pageCsrfToken(c, ctx),
    ]);
  const problemOf = (form: AccountForm) =>
    state.problem?.form === form ? state.problem.message : undefined;
  const values = state.values ?? {};
  /** The props every form section takes: the page's token, its problem, what was typed. */
  const formOf = (form: AccountForm) => ({ csrf, problem: problemOf(form), values });
  return renderPage(c, {
    title: "Your account",
    sandboxed: ctx.config.sandboxed,
    viewer: { signedIn: true, csrf, staffHome: staffHome(c.get("auth")) },
    body: (
      <div class="account">
        <h1>Hello, {user.displayName ?? user.email ?? user.phone}</h1>
        {state.notice && <p class="notice" role="status">{state.notice}</p>}
        <p class="muted">Times on this page are in {format.zoneLabel}.</p>
        <div class="cards">
          <BalanceSection available={wallet.available} format={format} />
          <PlanSection tier={tier} allowance={allowance} format={format} />
        </div>
        <TopUpSection
          {...formOf("topUp")}
          packages={packages}
          currencies={currencies}
          format={format}
          phone={user.phone}
          testPhones={ctx.config.sandboxed.includes("paynow")
            ? describeTestModePhones()
            : undefined}
        />
        <Histories payments={payments} usage={usage} format={format} />
        <PhoneSection
          csrf={csrf}
          linked={user.phone}
          pending={pendingPhone}
          format={format}
          problem={problemOf("phone") ?? problemOf("phoneCode")}
          codeProblem={state.problem?.form === "phoneCode"}
          values={values}
        />
        {ctx.telegram && (
          <TelegramLinkSection
            link={telegramLink}
            code={state.telegram?.code}
            problem={state.telegram?.problem}
            csrf={csrf}
            botUsername={ctx.telegram.botUsername}
          />
        )}
        <ApiKeysSection {...formOf("apiKey")} keys={keys} format={format} newKey={state.newKey} />
        <ProfileSection {...formOf("profile")} user={user} />
        <PasswordSection csrf={csrf} problem={problemOf("password")} />
      </div>
    ),
  }, state.problem ? state.status ?? 400 : state.telegram?.problem ? 400 : 200);
}
