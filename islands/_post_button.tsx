/**
 * A one-click action (delete, retry, unlink): a button in a form of its own that posts to
 * `action` with the CSRF token, so it works without JavaScript. Shared by pages and islands.
 */
import type { ComponentChildren } from "preact";

export function PostButton(props: { action: string; csrf: string; children: ComponentChildren }) {
  return (
    <form method="post" action={props.action}>
      <input type="hidden" name="_csrf" value={props.csrf} />
      <button type="submit">{props.children}</button>
    </form>
  );
}
