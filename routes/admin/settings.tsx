/**
 * `/admin/settings`: token packages and their prices, tiers (per-minute limit, daily cap), the
 * operator settings (signup grant, payment expiry), and the AI configurations.
 *
 * API keys of AI configurations are write-only: a password field that is never filled in, a
 * box to remove the key; the page only says whether one is set.
 */
import { textField } from "../../lib/text.ts";
import { Hono } from "hono";
import { z } from "zod";
import { listTiers } from "../../lib/accounts/tiers.ts";
import {
  createPackage,
  listAiConfigs,
  listAllPackages,
  operatorSettings,
  type PackageRow,
  updateAiConfig,
  updateOperatorSettings,
  updatePackage,
  updateTier,
} from "../../lib/admin/settings.ts";
import { notFound } from "../../lib/errors.ts";
import { type AuthEnv, pageCsrfToken } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { actorOf } from "./_audit.ts";
import { adminForm, back, UUID } from "./_forms.ts";
import { CardForm, Check, Field } from "./_fields.tsx";
import { adminPage } from "./_layout.tsx";

const PAGE = "/admin/settings";

const price = textField().trim().transform((s) => s === "" ? null : s).pipe(
  z.string().regex(/^\d{1,8}(\.\d{1,2})?$/).refine((s) => Number(s) > 0).nullable(),
);
const wholeNumber = (min: number, max: number) =>
  textField().trim().regex(/^\d{1,12}$/).transform(Number).pipe(z.number().int().min(min).max(max));

const PackageForm = z.object({
  name: textField().trim().min(1).max(80),
  tokens: wholeNumber(1, 1_000_000_000),
  price_usd: price,
  price_zig: price,
  position: wholeNumber(0, 1000),
  active: textField().optional().transform((v) => v === "on"),
}).refine((p) => p.price_usd !== null || p.price_zig !== null);

const TierForm = z.object({
  requests_per_minute: wholeNumber(1, 100_000),
  daily_token_cap: wholeNumber(0, 1_000_000_000_000),
});

const decimal = (max: number) =>
  textField().trim().regex(/^\d{1,8}(\.\d{1,4})?$/).refine((s) => Number(s) <= max);

const AiConfigForm = z.object({
  model: textField().trim().min(1).max(200),
  base_url: textField().trim().transform((s) => s === "" ? null : s).pipe(
    z.url({ protocol: /^https?$/ }).max(500).nullable(),
  ),
  temperature: decimal(2),
  max_output_tokens: wholeNumber(1, 1_000_000),
  price_input_per_1k: decimal(1_000_000),
  price_output_per_1k: decimal(1_000_000),
  // Empty turns summaries off. A model id: letters, digits and the usual separators.
  summary_model: textField().trim().max(200).optional().transform((v) => v ? v : null).pipe(
    z.string().regex(/^[\w.:/@-]+$/).nullable(),
  ),
  active: textField().optional().transform((v) => v === "on"),
  // Blank keeps the stored key; the box removes it.
  api_key: textField().trim().max(500).optional().transform((v) => v ? v : undefined),
  remove_key: textField().optional().transform((v) => v === "on"),
}).transform(({ remove_key, api_key, ...rest }) => ({
  ...rest,
  api_key: remove_key ? null : api_key,
}));

const SettingsForm = z.object({
  signup_grant_tokens: wholeNumber(0, 1_000_000_000),
  payment_expiry_minutes: wholeNumber(1, 24 * 60),
});

function PackageFields(props: { values?: PackageRow; submit: string }) {
  const v: Partial<PackageRow> = props.values ?? { active: true, position: 0 };
  return (
    <>
      <Field label="Name" name="name" value={v.name} required maxLength={80} />
      <Field label="Tokens" name="tokens" value={v.tokens} inputMode="numeric" required />
      <Field label="Price USD" name="price_usd" value={v.price_usd} inputMode="decimal" />
      <Field label="Price ZiG" name="price_zig" value={v.price_zig} inputMode="decimal" />
      <Field label="Order" name="position" value={v.position} inputMode="numeric" />
      <Check name="active" checked={Boolean(v.active)} label="On sale" />
      <button type="submit">{props.submit}</button>
    </>
  );
}

export function settingsRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const sql = ctx.db.sql;

  app.get("/settings", async (c) => {
    const [packages, tiers, values, aiConfigs] = await Promise.all([
      listAllPackages(sql),
      listTiers(sql),
      operatorSettings(sql),
      listAiConfigs(sql),
    ]);
    const grant = values.signup_grant_tokens;
    const expiry = values.payment_expiry_minutes;
    const csrf = await pageCsrfToken(c, ctx);
    return adminPage(c, ctx, {
      title: "Settings",
      section: PAGE,
      children: (
        <>
          <h2>Token packages</h2>
          <p class="muted">
            A currency is offered only when its Paynow integration is configured.
          </p>
          <div class="cards">
            {packages.map((p) => (
              <CardForm action={`/admin/settings/packages/${p.id}`} title={p.name} csrf={csrf}>
                <PackageFields values={p} submit="Save package" />
              </CardForm>
            ))}
            <CardForm action="/admin/settings/packages" title="New package" csrf={csrf}>
              <PackageFields submit="Add package" />
            </CardForm>
          </div>

          <h2>Tiers</h2>
          <div class="cards">
            {tiers.map((t) => (
              <CardForm action={`/admin/settings/tiers/${t.name}`} title={t.name} csrf={csrf}>
                <Field
                  label="Requests a minute"
                  name="requests_per_minute"
                  value={t.requestsPerMinute}
                  inputMode="numeric"
                />
                <Field
                  label="Daily token cap (0 = none)"
                  name="daily_token_cap"
                  value={t.dailyTokenCap}
                  inputMode="numeric"
                />
                <button type="submit">Save tier</button>
              </CardForm>
            ))}
          </div>

          <h2>Accounts and payments</h2>
          <form method="post" action="/admin/settings/values" class="card stack narrow">
            <input type="hidden" name="_csrf" value={csrf} />
            <Field
              label="Signup grant (tokens for every new account)"
              name="signup_grant_tokens"
              value={grant}
              inputMode="numeric"
            />
            <Field
              label="Minutes before an unpaid payment expires"
              name="payment_expiry_minutes"
              value={expiry}
              inputMode="numeric"
            />
            <button type="submit">Save</button>
          </form>

          <h2>AI configurations</h2>
          <p class="muted">
            API keys are write-only: they are stored encrypted and never shown again. Leave the key
            blank to keep it. The <code>default</code>{" "}
            configuration's provider, model, base URL and key follow the environment (AI_PROVIDER,
            OPENAI_*, ANTHROPIC_*) at every start.
          </p>
          <div class="cards">
            {aiConfigs.map((a) => (
              <CardForm
                action={`/admin/settings/ai/${a.id}`}
                title={
                  <>
                    {a.name} <span class="muted">({a.provider})</span>
                    {a.is_default && <span class="badge">default</span>}
                  </>
                }
                csrf={csrf}
              >
                <Field label="Model" name="model" value={a.model} required maxLength={200} />
                <Field
                  label="Base URL"
                  name="base_url"
                  value={a.base_url}
                  placeholder="provider default"
                />
                <Field
                  label={`API key (${a.has_key ? "set" : "not set"})`}
                  name="api_key"
                  type="password"
                  value=""
                  autocomplete="new-password"
                  placeholder={a.has_key ? "leave blank to keep" : ""}
                />
                {a.has_key && (
                  <Check name="remove_key" checked={false} label="Remove the stored key" />
                )}
                <Field label="Temperature" name="temperature" value={a.temperature} />
                <Field
                  label="Max output tokens"
                  name="max_output_tokens"
                  value={a.max_output_tokens}
                  inputMode="numeric"
                />
                <Field
                  label="Wallet tokens per 1k input tokens"
                  name="price_input_per_1k"
                  value={a.price_input_per_1k}
                />
                <Field
                  label="Wallet tokens per 1k output tokens"
                  name="price_output_per_1k"
                  value={a.price_output_per_1k}
                />
                <Field
                  label="Summary model"
                  name="summary_model"
                  value={a.summary_model}
                  maxLength={200}
                  placeholder="empty: off"
                  hint={"Summarises the turns a chat's context budget drops, on this " +
                    "configuration's provider and key; not billed to users. Empty: older turns " +
                    "are just dropped."}
                />
                <Check name="active" checked={Boolean(a.active)} label="Active" />
                <button type="submit">Save configuration</button>
              </CardForm>
            ))}
            {aiConfigs.length === 0 && (
              <p>None stored yet: the next start writes one from the environment.</p>
            )}
          </div>
        </>
      ),
    });
  });

  app.post("/settings/packages/:id", async (c) => {
    const id = c.req.param("id");
    const form = await adminForm(c, ctx);
    if (!UUID.test(id)) throw notFound("This package");
    const parsed = PackageForm.safeParse(form);
    if (!parsed.success) return back(c, PAGE, { problem: "invalid" });
    const outcome = await updatePackage(sql, actorOf(c), id, parsed.data);
    return back(c, PAGE, { notice: outcome });
  });

  app.post("/settings/packages", async (c) => {
    const form = await adminForm(c, ctx);
    const parsed = PackageForm.safeParse(form);
    if (!parsed.success) return back(c, PAGE, { problem: "invalid" });
    await createPackage(sql, actorOf(c), parsed.data);
    return back(c, PAGE, { notice: "created" });
  });

  app.post("/settings/tiers/:name", async (c) => {
    const name = c.req.param("name");
    const form = await adminForm(c, ctx);
    const parsed = TierForm.safeParse(form);
    if (!parsed.success) return back(c, PAGE, { problem: "invalid" });
    const outcome = await updateTier(sql, actorOf(c), name, parsed.data);
    return back(c, PAGE, { notice: outcome });
  });

  app.post("/settings/ai/:id", async (c) => {
    const id = c.req.param("id");
    const form = await adminForm(c, ctx);
    if (!UUID.test(id)) throw notFound("This AI configuration");
    const parsed = AiConfigForm.safeParse(form);
    if (!parsed.success) return back(c, PAGE, { problem: "invalid" });
    const outcome = await updateAiConfig(
      sql,
      ctx.config.encryptionKey,
      actorOf(c),
      id,
      parsed.data,
    );
    return back(c, PAGE, { notice: outcome });
  });

  app.post("/settings/values", async (c) => {
    const form = await adminForm(c, ctx);
    const parsed = SettingsForm.safeParse(form);
    if (!parsed.success) return back(c, PAGE, { problem: "invalid" });
    const changed = await updateOperatorSettings(sql, actorOf(c), parsed.data);
    return back(c, PAGE, { notice: changed > 0 ? "saved" : "unchanged" });
  });

  return app;
}
