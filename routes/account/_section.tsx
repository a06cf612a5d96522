/**
 * The account page's pieces: a section under its heading (reached from the page's links by its
 * id), and a form that posts with its CSRF token and says first what was wrong with the last try.
 */
import type { ComponentChildren } from "preact";

export function AccountSection(props: { id: string; title: string; children: ComponentChildren }) {
  return (
    <section id={props.id} aria-labelledby={`${props.id}-title`}>
      <h2 id={`${props.id}-title`}>{props.title}</h2>
      {props.children}
    </section>
  );
}

export function AccountForm(props: {
  action: string;
  csrf: string;
  problem?: string | false;
  children: ComponentChildren;
}) {
  return (
    <form method="post" action={props.action} class="stack narrow">
      <input type="hidden" name="_csrf" value={props.csrf} />
      {props.problem && <p role="alert" class="form-error">{props.problem}</p>}
      {props.children}
    </form>
  );
}
