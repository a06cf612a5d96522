/**
 * `GET /`: the home page — what Hurukuro is, what it costs (the packages on sale, in the
 * currencies offered), and the way in: sign up or log in, or chat on WhatsApp when the business
 * number is configured (WHATSAPP_DISPLAY_NUMBER).
 */
import { Hono } from "hono";
import { getSetting } from "../lib/accounts/settings.ts";
import { createFormat } from "../lib/format.ts";
import {
  EXPRESS_METHODS,
  listBuyablePackages,
  METHOD_NAMES,
  offeredCurrencies,
} from "../lib/payments/mod.ts";
import { type AuthEnv, pageViewer } from "./_auth.ts";
import type { AppContext } from "./_context.ts";
import { renderPage } from "./_render.tsx";
import { DataTable } from "./_table.tsx";

export function homeRoutes(ctx: AppContext): Hono<AuthEnv> {
  return new Hono<AuthEnv>().get("/", async (c) => {
    const format = createFormat(ctx.config.tzMetrics);
    const currencies = offeredCurrencies(ctx.payments.paynow);
    const [packages, grant] = await Promise.all([
      listBuyablePackages(ctx.db.sql, currencies),
      getSetting(ctx.db.sql, "signup_grant_tokens"),
    ]);
    const auth = c.get("auth");
    const whatsapp = ctx.config.whatsapp.displayNumber;
    const mobileMoney = EXPRESS_METHODS.map((m) => METHOD_NAMES[m]).join(", ");
    return renderPage(c, {
      title: "Hurukuro",
      sandboxed: ctx.config.sandboxed,
      viewer: await pageViewer(c, ctx),
      body: (
        <div class="home">
          <section class="hero">
            <h1>Hurukuro</h1>
            <p class="lead">
              An AI assistant you can talk to on the web and on WhatsApp. Ask questions, think
              things through, or have a full essay written — and pay only for what you use, with
              mobile money or a card.
            </p>
            <p class="cta">
              {auth
                ? (
                  <>
                    <a class="button primary" href="/chat">Open the chat</a>
                    <a class="button" href="/account">Your account</a>
                  </>
                )
                : (
                  <>
                    <a class="button primary" href="/signup">Sign up</a>
                    <a class="button" href="/login">Log in</a>
                  </>
                )}
              {whatsapp && (
                <a
                  class="button whatsapp"
                  href={`https://wa.me/${whatsapp.replace(/\D/g, "")}`}
                  data-testid="whatsapp-link"
                >
                  Chat on WhatsApp
                </a>
              )}
            </p>
            {!auth && Number(grant) > 0 && (
              <p class="muted">
                New accounts start with {format.count(Number(grant))} free tokens.
              </p>
            )}
          </section>

          <section aria-labelledby="how-title">
            <h2 id="how-title">How it works</h2>
            <ul class="features">
              <li>
                <strong>Chat</strong> remembers the conversation, so you can follow up and refine.
              </li>
              <li>
                <strong>Essays</strong> answer one question in full, structured and ready to use.
              </li>
              <li>
                <strong>WhatsApp</strong>{" "}
                works like the web: link your number on your account and ask from your phone.
              </li>
              <li>
                <strong>Prepaid tokens</strong>: each answer costs tokens by its length, shown after
                it. No subscription, nothing owed.
              </li>
            </ul>
          </section>

          <section aria-labelledby="prices-title" id="prices">
            <h2 id="prices-title">Prices</h2>
            {packages.length === 0
              ? <p class="muted">Token packages are not on sale right now.</p>
              : (
                <>
                  <DataTable
                    label="Token packages and prices"
                    testId="packages"
                    columns={["Package", "Tokens", ...currencies.map((cur) => `Price in ${cur}`)]}
                  >
                    {packages.map((p) => (
                      <tr>
                        <td>{p.name}</td>
                        <td class="num">{format.count(p.tokens)}</td>
                        {currencies.map((cur) => {
                          const price = p.prices[cur];
                          return (
                            <td key={cur} class="num">
                              {price ? format.money(cur, price) : "—"}
                            </td>
                          );
                        })}
                      </tr>
                    ))}
                  </DataTable>
                  <p class="muted">
                    Pay with {mobileMoney}, or on the {METHOD_NAMES.web}, through Paynow.
                  </p>
                </>
              )}
          </section>
        </div>
      ),
    });
  });
}
