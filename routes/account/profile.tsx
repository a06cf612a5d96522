/** The account page's profile (the name shown) and password change (`#profile`, `#password`). */
import { z } from "zod";
import { MIN_PASSWORD_LENGTH } from "../../lib/accounts/passwords.ts";
import { changePassword, updateProfile, type User } from "../../lib/accounts/users.ts";
import { AppError } from "../../lib/errors.ts";
import { textField } from "../../lib/text.ts";
import type { AppContext } from "../_context.ts";
import { firstProblem } from "../_form.ts";
import type { AccountPoster } from "./_form.ts";
import { refusal } from "./page.tsx";
import { AccountForm, AccountSection } from "./_section.tsx";

const ProfileForm = z.object({
  displayName: textField().trim().max(80, "a name is at most 80 characters"),
});
const PasswordForm = z.object({
  current: textField().min(1, "enter your current password").max(256),
  password: textField().min(
    MIN_PASSWORD_LENGTH,
    `choose a new password of at least ${MIN_PASSWORD_LENGTH} characters`,
  ).max(256, "a password is at most 256 characters"),
  confirm: textField().max(256),
}).refine((f) => f.password === f.confirm, { message: "the two new passwords differ" });

export function profileForms(ctx: AppContext, post: AccountPoster) {
  post("/account/profile", async (c, { user, values }) => {
    const parsed = ProfileForm.safeParse({ displayName: "", ...values });
    if (!parsed.success) {
      return refusal(c, ctx, user, "profile", values)(firstProblem(parsed.error));
    }
    await updateProfile(ctx.db.sql, user.id, { displayName: parsed.data.displayName || null });
    return c.redirect("/account?done=profile#profile", 303);
  });

  post("/account/password", async (c, { user, values }) => {
    const refuse = refusal(c, ctx, user, "password");
    const parsed = PasswordForm.safeParse({ current: "", password: "", confirm: "", ...values });
    if (!parsed.success) return refuse(firstProblem(parsed.error));
    try {
      await changePassword(ctx.db.sql, user.id, parsed.data.current, parsed.data.password);
    } catch (error) {
      if (error instanceof AppError && error.code === "validation_failed") {
        return refuse(error.message);
      }
      throw error;
    }
    return c.redirect("/account?done=password#password", 303);
  });
}

export function ProfileSection(props: {
  csrf: string;
  user: User;
  problem?: string;
  values: Record<string, string>;
}) {
  const { user } = props;
  return (
    <AccountSection id="profile" title="Profile">
      <AccountForm action="/account/profile" csrf={props.csrf} problem={props.problem}>
        {user.email && (
          <p>
            E-mail: <strong>{user.email}</strong>
          </p>
        )}
        <label>
          Your name
          <input
            name="displayName"
            autocomplete="name"
            maxLength={80}
            value={props.values.displayName ?? user.displayName ?? ""}
          />
          <small>Shown on your account and in greetings. Leave empty to use your e-mail.</small>
        </label>
        <button type="submit">Save profile</button>
      </AccountForm>
    </AccountSection>
  );
}

export function PasswordSection(props: { csrf: string; problem?: string }) {
  return (
    <AccountSection id="password" title="Password">
      <AccountForm action="/account/password" csrf={props.csrf} problem={props.problem}>
        <label>
          Current password
          <input name="current" type="password" autocomplete="current-password" required />
        </label>
        <label>
          New password
          <input
            name="password"
            type="password"
            autocomplete="new-password"
            minLength={MIN_PASSWORD_LENGTH}
            aria-describedby="new-password-hint"
            required
          />
        </label>
        <small id="new-password-hint">At least {MIN_PASSWORD_LENGTH} characters.</small>
        <label>
          New password again
          <input name="confirm" type="password" autocomplete="new-password" required />
        </label>
        <button type="submit">Change password</button>
      </AccountForm>
    </AccountSection>
  );
}
