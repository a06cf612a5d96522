/**
 * Buy tokens: package (list) → method (buttons) → this number or another → payment started
 * with Paynow's instructions → later, the settled payment arrives as an event
 * ({@link settled}): "Payment received: 500 tokens added. Balance: 740", and the activity the
 * user was in (Chat, Essay or the menu) resumes.
 *
 * Express checkout only: the user is on their phone already, so the mobile-money prompt is the
 * shortest way. Starting the payment is idempotent on the inbound message, so a re-run of this
 * step never charges twice.
 */
import { AppError } from "../../../errors.ts";
import { offeredCurrencies } from "../../../payments/model.ts";
import { listBuyablePackages, type TokenPackage } from "../../../payments/packages.ts";
import { startPayment } from "../../../payments/start.ts";
import { EXPRESS_METHODS, type ExpressMethod, METHOD_NAMES } from "../../../payments/vocabulary.ts";
import { parseZimbabweMobile } from "../../../paynow/phone.ts";
import { formatAmount } from "../../../paynow/mod.ts";
import { matchMenuChoice, menuChoices } from "../../menu.ts";
import type { OutboundButtons, OutboundList } from "../../types.ts";
import {
  BUY_BAD_PHONE,
  BUY_METHOD,
  BUY_PACKAGES,
  BUY_PHONE,
  BUY_TYPE_PHONE,
  BUY_UNAVAILABLE,
  BUY_WAITING,
  formatTokens,
} from "../texts.ts";
import {
  type BotContext,
  type BotInput,
  type BotState,
  type PaymentEvent,
  type Session,
  type Step,
} from "../types.ts";
import { mainMenu, text } from "./menu.ts";

type BuyState = Extract<BotState, { flow: "buy" }>;

async function packages(ctx: BotContext): Promise<TokenPackage[]> {
  const sql = ctx.deps.db.sql;
  return (await listBuyablePackages(sql, offeredCurrencies(ctx.deps.payments.paynow)))
    .slice(0, 10);
}

function price(pkg: TokenPackage): string {
  const [currency, amount] = Object.entries(pkg.prices)[0] ?? ["", ""];
  return `${currency} ${formatAmount(amount)}`;
}

function packageList(list: TokenPackage[]): OutboundList {
  return {
    type: "list",
    body: BUY_PACKAGES,
    button: "Packages",
    sections: [{
      title: "Token packages",
      rows: list.map((p) => ({
        id: `buy:pkg:${p.id}`,
        title: `${formatTokens(p.tokens)} tokens`,
        description: `${p.name}: ${price(p)}`,
      })),
    }],
  };
}

function methodButtons(pkg: TokenPackage): OutboundButtons {
  return {
    type: "buttons",
    body: BUY_METHOD(`${pkg.name}: ${formatTokens(pkg.tokens)} tokens for ${price(pkg)}`),
    buttons: EXPRESS_METHODS.map((m) => ({ id: `buy:method:${m}`, title: METHOD_NAMES[m] })),
  };
}

function phoneButtons(local: string): OutboundButtons {
  return {
    type: "buttons",
    body: BUY_PHONE(local),
    buttons: [
      { id: "buy:phone:this", title: "This number" },
      { id: "buy:phone:other", title: "Another number" },
    ],
  };
}

/** The choice id an input means against `menu` (a tap, or a typed number or title). */
function chosen(input: BotInput, menu: OutboundList | OutboundButtons): string | undefined {
  if (input.kind === "choice") return input.id;
  if (input.kind !== "text") return undefined;
  return matchMenuChoice(input.text, menuChoices(menu))?.id;
}

export async function enter(ctx: BotContext, session: Session): Promise<Step> {
  const list = await packages(ctx);
  if (list.length === 0) {
    return { session: { ...session, state: { flow: "menu" } }, replies: [text(BUY_UNAVAILABLE)] };
  }
  return {
    session: { ...session, state: { flow: "buy", step: "package" } },
    replies: [{ message: packageList(list) }],
  };
}

/** A tapped package from any message (even an old list) starts the method step. */
export async function choosePackage(
  ctx: BotContext,
  session: Session,
  packageId: string,
): Promise<Step> {
  const pkg = (await packages(ctx)).find((p) => p.id === packageId);
  if (!pkg) return enter(ctx, session);
  return {
    session: { ...session, state: { flow: "buy", step: "method", packageId } },
    replies: [{ message: methodButtons(pkg) }],
  };
}

export async function handle(ctx: BotContext, session: Session, input: BotInput): Promise<Step> {
  const state = session.state as BuyState;
  switch (state.step) {
    case "package": {
      const list = await packages(ctx);
      const id = chosen(input, packageList(list));
      if (id?.startsWith("buy:pkg:")) return choosePackage(ctx, session, id.slice(8));
      return { session, replies: [{ message: packageList(list) }] };
    }
    case "method": {
      const pkg = (await packages(ctx)).find((p) => p.id === state.packageId);
      if (!pkg) return enter(ctx, session);
      const id = chosen(input, methodButtons(pkg));
      const method = EXPRESS_METHODS.find((m) => id === `buy:method:${m}`);
      if (!method) return { session, replies: [{ message: methodButtons(pkg) }] };
      const own = parseZimbabweMobile(ctx.phone);
      if (!own.ok) {
        return {
          session: { ...session, state: { ...state, step: "other_phone", method } },
          replies: [text(BUY_TYPE_PHONE)],
        };
      }
      return {
        session: { ...session, state: { ...state, step: "phone", method } },
        replies: [{ message: phoneButtons(own.local) }],
      };
    }
    case "phone": {
      const own = parseZimbabweMobile(ctx.phone);
      const id = own.ok ? chosen(input, phoneButtons(own.local)) : "buy:phone:other";
      if (id === "buy:phone:this" && own.ok) {
        return await pay(ctx, session, state.packageId, state.method, own.local);
      }
      if (id === "buy:phone:other") {
        return {
          session: { ...session, state: { ...state, step: "other_phone" } },
          replies: [text(BUY_TYPE_PHONE)],
        };
      }
      // A number typed straight away is understood too.
      if (input.kind === "text" && parseZimbabweMobile(input.text).ok) {
        return await pay(ctx, session, state.packageId, state.method, input.text);
      }
      return { session, replies: [{ message: phoneButtons(own.ok ? own.local : ctx.phone) }] };
    }
    case "other_phone": {
      if (input.kind !== "text") return { session, replies: [text(BUY_TYPE_PHONE)] };
      const phone = parseZimbabweMobile(input.text);
      if (!phone.ok) return { session, replies: [text(BUY_BAD_PHONE(phone.message))] };
      return await pay(ctx, session, state.packageId, state.method, phone.local);
    }
    case "waiting":
      return { session, replies: [text(BUY_WAITING)] };
  }
}

async function pay(
  ctx: BotContext,
  session: Session,
  packageId: string,
  method: ExpressMethod,
  phone: string,
): Promise<Step> {
  const back = (message: string): Step => ({
    session: { ...session, state: { flow: "menu" } },
    replies: [mainMenu(message)],
  });
  let payment;
  try {
    payment = await startPayment(ctx.deps.payments, {
      userId: ctx.user.id,
      packageId,
      method,
      phone,
      channel: "whatsapp",
      idempotencyKey: `whatsapp:${ctx.inboundId}`,
    });
  } catch (error) {
    if (error instanceof AppError) return back(`${error.message} Choose what to do next:`);
    throw error;
  }
  if (payment.status === "failed") {
    return back(`${payment.error ?? "The payment could not be started."}\n\nChoose what to do:`);
  }
  const local = payment.phone ? parseZimbabweMobile(payment.phone) : null;
  const what = `*${formatTokens(payment.tokens)} tokens* for ${payment.currency} ${
    formatAmount(payment.amount)
  } with ${METHOD_NAMES[method]}${local?.ok ? ` from ${local.local}` : ""}`;
  const instructions = payment.instructions?.trim() ||
    "Check your phone for the payment prompt and approve it with your PIN.";
  return {
    session: { ...session, state: { flow: "buy", step: "waiting", paymentId: payment.id } },
    replies: [
      text(
        `Payment started: ${what}.\n\n${instructions}\n\n` +
          "I'll message you here as soon as it's confirmed.",
      ),
    ],
  };
}

/**
 * A payment settled (an event queued by the payments module through this channel). Tells the
 * user; if they were waiting for it, resumes what they were doing before buying.
 */
export function settled(ctx: BotContext, session: Session, event: PaymentEvent): Step {
  const waiting = session.state.flow === "buy" && session.state.step === "waiting" &&
    session.state.paymentId === event.paymentId;
  const template = ctx.deps.paymentTemplate;
  if (event.status !== "paid") {
    const word = event.status === "expired" ? "was not completed in time" : `was ${event.status}`;
    const notice = text(
      `Your payment of ${event.currency} ${formatAmount(event.amount)} ${word}. ` +
        "Nothing was charged.",
    );
    if (!waiting) return { session, replies: [notice] };
    return {
      session: { ...session, state: { flow: "menu" } },
      replies: [notice, mainMenu("Choose what to do next:")],
    };
  }
  const line = `Payment received: ${formatTokens(event.tokens)} tokens added. Balance: ${
    formatTokens(event.balance ?? 0)
  }`;
  const notice = {
    ...text(line),
    ...(template
      ? {
        template: {
          type: "template" as const,
          name: template.name,
          language: template.language,
          parameters: [formatTokens(event.tokens), formatTokens(event.balance ?? 0)],
        },
      }
      : {}),
  };
  if (!waiting) return { session, replies: [notice] };
  switch (session.activity) {
    case "chat":
      return {
        session: { ...session, state: { flow: "chat" }, chatAt: ctx.deps.now() },
        replies: [notice, text("You're back in *Chat*: send your next message.")],
      };
    case "essay":
      return {
        session: { ...session, state: { flow: "essay" } },
        replies: [notice, text("You're back in *Essay*: send your question.")],
      };
    default:
      return {
        session: { ...session, state: { flow: "menu" } },
        replies: [notice, mainMenu()],
      };
  }
}
