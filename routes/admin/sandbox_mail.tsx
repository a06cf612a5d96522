/**
 * `/admin/sandbox/mail`: the e-mails the sandbox's built-in SMTP server received (lib/sandbox/
 * smtp.ts), newest first, so a flow that sends e-mail (a password reset) can be finished by hand
 * without a real mailbox. It exists only while e-mail is sandboxed: otherwise the same 404 as any
 * unknown URL.
 */
import { Hono } from "hono";
import { AppError } from "../../lib/errors.ts";
import type { ReceivedMail } from "../../lib/sandbox/smtp.ts";
import type { AuthEnv } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { adminPage, Fact, Time } from "./_layout.tsx";

export const SANDBOX_MAIL_PATH = "/admin/sandbox/mail";

const LINK = /https?:\/\/[^\s<>"')]+/g;

/** The text with its web addresses as links (only http and https ones, as written). */
function TextWithLinks(props: { text: string }) {
  const parts: (string | { href: string })[] = [];
  let at = 0;
  for (const match of props.text.matchAll(LINK)) {
    parts.push(props.text.slice(at, match.index), { href: match[0] });
    at = match.index + match[0].length;
  }
  parts.push(props.text.slice(at));
  return (
    <pre class="mail-text">
      {parts.map((p, i) => typeof p === "string" ? p : <a key={i} href={p.href}>{p.href}</a>)}
    </pre>
  );
}

function Mail(props: { mail: ReceivedMail; tz: string }) {
  const { mail, tz } = props;
  return (
    <article class="mail" data-testid="mail">
      <h2>{mail.subject || "(no subject)"}</h2>
      <dl class="facts">
        <Fact term="To">{mail.to.join(", ")}</Fact>
        <Fact term="From">{mail.from}</Fact>
        <Fact term="Received">
          <Time at={mail.receivedAt} tz={tz} />
        </Fact>
      </dl>
      <TextWithLinks text={mail.text} />
    </article>
  );
}

export function sandboxMailRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.get("/sandbox/mail", (c) => {
    const mailbox = ctx.upstreams.mailbox;
    if (!mailbox) throw new AppError("not_found", `Nothing is served at ${c.req.path}.`);
    const messages = mailbox.messages();
    return adminPage(c, ctx, {
      title: "Sandbox mail",
      section: SANDBOX_MAIL_PATH,
      children: (
        <>
          <p class="muted">
            E-mail is sandboxed: what Hurukuro sends arrives here instead of a real mailbox (newest
            first, the last few hundred while the server runs).
          </p>
          {messages.length === 0 && <p>No e-mail yet.</p>}
          {messages.map((m, i) => <Mail key={i} mail={m} tz={ctx.config.tzMetrics} />)}
        </>
      ),
    });
  });
  return app;
}
