/**
 * API keys from the account page (`#api-keys`): create one with a name (its secret shown this
 * once), see when each was last used, revoke one. The API's /api-keys does the same for scripts.
 */
import { z } from "zod";
import { type ApiKey, createApiKey, revokeApiKey } from "../../lib/accounts/credentials.ts";
import type { Format } from "../../lib/format.ts";
import { textField } from "../../lib/text.ts";
import type { AppContext } from "../_context.ts";
import { firstProblem } from "../_form.ts";
import type { AccountPoster } from "./_form.ts";
import { refusal, renderAccount } from "./page.tsx";
import { DataTable } from "../_table.tsx";
import { AccountForm, AccountSection } from "./_section.tsx";

const NewKeyForm = z.object({
  name: textField().trim().min(1, 'name the key (e.g. "my script")')
    .max(60, "a key's name is at most 60 characters"),
});
const RevokeForm = z.object({ id: textField().max(64) });

export function apiKeyForms(ctx: AppContext, post: AccountPoster) {
  post("/account/api-keys", async (c, { user, values }) => {
    const parsed = NewKeyForm.safeParse({ name: "", ...values });
    if (!parsed.success) return refusal(c, ctx, user, "apiKey", values)(firstProblem(parsed.error));
    const key = await createApiKey(ctx.db.sql, user.id, parsed.data.name);
    // Shown in this answer only: a redirect could not carry the secret without storing it.
    c.header("Cache-Control", "no-store");
    return renderAccount(c, ctx, user, { newKey: { name: key.name, key: key.key } });
  });

  post("/account/api-keys/revoke", async (c, { user, values }) => {
    const parsed = RevokeForm.safeParse(values);
    const revoked = parsed.success && await revokeApiKey(ctx.db.sql, user.id, parsed.data.id);
    if (!revoked) {
      return refusal(c, ctx, user, "apiKey")("That key does not exist or was already revoked.");
    }
    return c.redirect("/account?done=key-revoked#api-keys", 303);
  });
}

export function ApiKeysSection(props: {
  csrf: string;
  keys: ApiKey[];
  format: Format;
  problem?: string;
  values: Record<string, string>;
  newKey?: { name: string; key: string };
}) {
  const { keys, format } = props;
  return (
    <AccountSection id="api-keys" title="API keys">
      <p>
        A key lets a script use the API as you (send it as{" "}
        <code>Authorization: Bearer hk_…</code>); its answers are paid from your balance.{" "}
        <a href="/api/docs">API documentation</a>
      </p>
      {props.newKey && (
        <div class="notice" role="status" data-testid="new-key">
          <p>
            Your new key{" "}
            <strong>{props.newKey.name}</strong>. Copy it now: it will not be shown again.
          </p>
          <code class="secret">{props.newKey.key}</code>
        </div>
      )}
      {keys.length === 0 ? <p class="muted">No keys yet.</p> : (
        <DataTable
          label="Your API keys"
          testId="api-keys"
          columns={[
            "Name",
            "Starts with",
            "Created",
            "Last used",
            <span key="revoke" class="visually-hidden">Revoke</span>,
          ]}
        >
          {keys.map((k) => (
            <tr>
              <td>{k.name}</td>
              <td>
                <code>{k.prefix}…</code>
              </td>
              <td>{format.dateTime(k.createdAt)}</td>
              <td>{k.lastUsedAt ? format.dateTime(k.lastUsedAt) : "never"}</td>
              <td>
                <form method="post" action="/account/api-keys/revoke">
                  <input type="hidden" name="_csrf" value={props.csrf} />
                  <input type="hidden" name="id" value={k.id} />
                  <button type="submit" class="danger" aria-label={`Revoke ${k.name}`}>
                    Revoke
                  </button>
                </form>
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      <AccountForm action="/account/api-keys" csrf={props.csrf} problem={props.problem}>
        <label>
          New key's name
          <input name="name" maxLength={60} value={props.values.name ?? ""} required />
        </label>
        <button type="submit">Create a key</button>
      </AccountForm>
    </AccountSection>
  );
}
