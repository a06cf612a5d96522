/** Balance: the wallet's tokens, with the next likely steps as buttons. */
import { getBalance } from "../../../wallet/ledger.ts";
import { formatTokens } from "../texts.ts";
import type { BotContext, Session, Step } from "../types.ts";

export async function enter(ctx: BotContext, session: Session): Promise<Step> {
  const { available } = await getBalance(ctx.deps.db.sql, ctx.user.id);
  return {
    session: { ...session, state: { flow: "menu" } },
    replies: [{
      message: {
        type: "buttons",
        body: `Your balance: *${formatTokens(available)} tokens*.`,
        buttons: [
          { id: "menu:buy", title: "Buy tokens" },
          { id: "menu:chat", title: "Chat" },
          { id: "menu:main", title: "Menu" },
        ],
      },
    }],
  };
}
