/**
 * Server half of the island seam: `<Island of={Component} props={...} />` renders the component
 * to HTML on the server, marks the wrapper with the island's name and its chunk URL, and puts the
 * props beside it as JSON (a `type="application/json"` script never executes, so the page's CSP
 * needs no exception for it). lib/islands/client.ts hydrates it in the browser.
 *
 * An island is the default export of `islands/<Name>.tsx`, a function named `<Name>`
 * (islands_test.ts checks this), and its props must survive JSON.
 */
import type { ComponentType, JSX } from "preact";
import { islandManifest } from "./manifest.ts";

let counter = 0;

/** JSON safe inside <script>: no `</script>` or `<!--` can end it early. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

export function Island<P extends Record<string, unknown>>(
  { of: Component, props }: { of: ComponentType<P>; props: P },
): JSX.Element {
  const name = Component.displayName ?? Component.name;
  const src = islandManifest().islands[name];
  if (!src) {
    throw new Error(
      `${name} is not a built island: is it the default export of islands/${name}.tsx?`,
    );
  }
  const id = `island-${++counter}`;
  return (
    <>
      <div id={id} data-island={name} data-island-src={src}>
        <Component {...props} />
      </div>
      <script
        type="application/json"
        id={`${id}-props`}
        dangerouslySetInnerHTML={{ __html: jsonForScript(props) }}
      />
    </>
  );
}
