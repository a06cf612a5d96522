/**
 * `/admin/simulator`: a phone-like WhatsApp chat with the bot, as a chosen test number, while
 * WhatsApp is sandboxed (lib/sandbox/whatsapp_simulator.ts does the work). Otherwise the page and
 * its endpoints are a 404 saying why.
 *
 * - `GET /admin/simulator?phone=+263…` — the page: the number, Paynow's test numbers, the chat
 *   (islands/WhatsAppSimulator.tsx).
 * - `GET /admin/api/simulator/thread?phone=…` — JSON: the thread and the number's wallet balance
 *   (the island polls it).
 * - `POST /admin/api/simulator/send` — JSON `{phone, type: "text", text}` or
 *   `{phone, type: "reply", replyTo, id}` with `X-CSRF-Token`: one signed delivery.
 *
 * The JSON endpoints answer refusals as the API's error envelope (the island shows the message).
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { AppError } from "../../lib/errors.ts";
import { describeTestModePhones } from "../../lib/sandbox/paynow_model.ts";
import {
  parseSimulatorPhone,
  SIMULATOR_TEXT_LIMIT,
  SimulatorSendSchema,
  type WhatsAppSimulator,
} from "../../lib/sandbox/whatsapp_simulator.ts";
import { Island } from "../../lib/islands/island.tsx";
import WhatsAppSimulatorChat from "../../islands/WhatsAppSimulator.tsx";
import { type AuthEnv, checkCsrf, pageCsrfToken } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { errorEnvelope, refusalStatus } from "../_errors.tsx";
import { validationError } from "../api/_openapi.ts";
import { adminPage } from "./_layout.tsx";

export const SIMULATOR_PATH = "/admin/simulator";

function simulatorOf(ctx: AppContext): WhatsAppSimulator {
  if (!ctx.whatsappSimulator) {
    throw new AppError(
      "not_found",
      "The WhatsApp simulator exists only while WhatsApp is sandboxed (no WHATSAPP_* settings, " +
        "outside production): this server talks to a real WhatsApp provider.",
    );
  }
  return ctx.whatsappSimulator;
}

/** Runs a JSON endpoint: its refusals as the error envelope, with their status. */
async function jsonEndpoint(c: Context<AuthEnv>, run: () => Promise<Response>) {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    return c.json(errorEnvelope(error), refusalStatus(c, error));
  }
}

async function readJson(c: Context<AuthEnv>): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new AppError(
      "unsupported_media_type",
      "Send the body as JSON with `Content-Type: application/json`.",
    );
  }
  try {
    return JSON.parse(await c.req.text());
  } catch {
    throw new AppError("bad_request", "The body is not valid JSON.");
  }
}

export function simulatorRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();

  app.get("/simulator", async (c) => {
    const simulator = simulatorOf(ctx);
    const asked = c.req.query("phone");
    let phone = simulator.defaultPhone;
    let problem: string | undefined;
    if (asked !== undefined) {
      try {
        phone = parseSimulatorPhone(asked);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        problem = error.message.replace(/^phone: /, "");
      }
    }
    const testPhones = ctx.config.sandboxed.includes("paynow") ? describeTestModePhones() : null;
    const thread = problem ? null : await simulator.thread(phone);
    return adminPage(c, ctx, {
      title: "WhatsApp simulator",
      section: SIMULATOR_PATH,
      children: (
        <div class="simulator">
          <div class="simulator-side">
            <p class="muted">
              Chat with the bot as a WhatsApp user. Each message is sent as Meta would send it,
              signed with the sandbox's app secret, and goes through the webhook like any other; the
              bot's answers are what it sent to the sandbox's Graph API.
            </p>
            <form method="get" action={SIMULATOR_PATH} class="stack narrow">
              <label>
                Test phone number
                <input
                  name="phone"
                  type="tel"
                  value={asked ?? phone}
                  autocomplete="off"
                  aria-invalid={problem ? "true" : undefined}
                  aria-describedby={problem ? "phone-problem" : "phone-hint"}
                />
              </label>
              <small class="muted" id="phone-hint">
                E.164, e.g. +263771111111 (or 0771111111). Each number is its own WhatsApp user,
                created at its first message.
              </small>
              {problem && <p id="phone-problem" class="form-error" role="alert">{problem}</p>}
              <button type="submit">Open this number</button>
            </form>
            <section aria-labelledby="sim-buying" class="simulator-help">
              <h2 id="sim-buying">Buying tokens</h2>
              <p>
                Send <kbd>buy</kbd>{" "}
                (or choose Buy tokens from the menu), pick a package and a method, then{" "}
                <em>This number</em> or <em>Another number</em>.
              </p>
              {testPhones
                ? (
                  <div class="notice" data-testid="test-phones">
                    <p>Paynow is sandboxed: its test numbers decide what happens.</p>
                    <ul>
                      {testPhones.map((t) => (
                        <li key={t.phone}>
                          <code>{t.phone}</code>: {t.outcome}
                        </li>
                      ))}
                    </ul>
                    <p>
                      The default number, +263771111111, is <code>0771111111</code>{" "}
                      as a mobile money number.
                    </p>
                  </div>
                )
                : <p class="muted">Paynow is not sandboxed here: payments are real.</p>}
            </section>
          </div>
          {thread && (
            <Island
              of={WhatsAppSimulatorChat}
              props={{
                phone,
                csrf: await pageCsrfToken(c, ctx),
                initial: thread,
                timeZone: ctx.config.tzMetrics,
                textLimit: SIMULATOR_TEXT_LIMIT,
              }}
            />
          )}
        </div>
      ),
    }, problem ? 400 : 200);
  });

  app.get("/api/simulator/thread", (c) =>
    jsonEndpoint(c, async () => {
      const simulator = simulatorOf(ctx);
      const phone = parseSimulatorPhone(c.req.query("phone") ?? "");
      return c.json(await simulator.thread(phone));
    }));

  app.post("/api/simulator/send", (c) =>
    jsonEndpoint(c, async () => {
      const simulator = simulatorOf(ctx);
      await checkCsrf(c, ctx, c.req.header("x-csrf-token"));
      const parsed = SimulatorSendSchema.safeParse(await readJson(c));
      if (!parsed.success) throw validationError(parsed.error);
      const { phone: raw, ...input } = parsed.data;
      const phone = parseSimulatorPhone(raw);
      const message = await simulator.send(phone, input);
      if (message.webhookStatus !== 200) {
        throw new AppError(
          "unavailable",
          `The webhook did not take the message (it answered ${message.webhookStatus}); ` +
            "see /admin/webhooks.",
        );
      }
      return c.json({ message });
    }));

  return app;
}
