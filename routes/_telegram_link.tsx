/**
 * The Telegram part of /account: whether a Telegram chat is linked, the button that asks for a
 * link code (shown once, in the answer to that POST, never in a URL), and the unlink button.
 */
import type { TelegramLink } from "../lib/telegram/links.ts";
import { LINK_CODE_TTL_MINUTES } from "../lib/telegram/links.ts";
import { PostButton } from "../islands/_post_button.tsx";

export interface TelegramLinkProps {
  link: TelegramLink | null;
  /** A code just made for this user. */
  code?: string;
  problem?: string;
  csrf: string;
  /** The bot's @username (TELEGRAM_BOT_USERNAME), for a t.me link that sends the code. */
  botUsername: string | null;
}

export function TelegramLinkSection(props: TelegramLinkProps) {
  const { link, code, problem, csrf, botUsername } = props;
  const bot = botUsername ? `@${botUsername}` : "the Hurukuro bot";
  return (
    <section id="telegram" aria-labelledby="telegram-title" class="narrow">
      <h2 id="telegram-title">Telegram</h2>
      {link
        ? (
          <>
            <p data-testid="telegram-linked">
              Linked to Telegram{link.username ? ` (@${link.username})` : ""} since{" "}
              {link.linkedAt.toISOString().slice(0, 10)}: chat there with the same tokens.
            </p>
            <PostButton action="/account/telegram/unlink" csrf={csrf}>Unlink Telegram</PostButton>
          </>
        )
        : <p>Chat with Hurukuro on Telegram too, with the same assistant and the same tokens.</p>}
      {problem && <p role="alert" class="error">{problem}</p>}
      {code
        ? (
          <div role="status">
            <p>
              Your code: <strong data-testid="telegram-code">{code}</strong> (it works once, for
              {" "}
              {LINK_CODE_TTL_MINUTES} minutes).
            </p>
            <p>
              Send <code>/link {code}</code> to {bot} on Telegram
              {botUsername && (
                <>
                  , or open{" "}
                  <a href={`https://t.me/${botUsername}?start=${code}`} rel="noopener">
                    t.me/{botUsername}
                  </a>{" "}
                  and press Start
                </>
              )}.
            </p>
          </div>
        )
        : (
          <form method="post" action="/account/telegram/code">
            <input type="hidden" name="_csrf" value={csrf} />
            <button type="submit">
              {link ? "Link another Telegram account" : "Get a link code"}
            </button>
          </form>
        )}
    </section>
  );
}
