/** Server-side rendering of a page with Preact, wrapped in the shared layout. */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ComponentChildren } from "preact";
import { renderToString } from "preact-render-to-string";
import { Layout, type Viewer } from "./_layout.tsx";

export function renderPage(
  c: Context,
  page: { title: string; body: ComponentChildren; sandboxed?: string[]; viewer?: Viewer },
  status: ContentfulStatusCode = 200,
): Response {
  const html = "<!doctype html>" +
    renderToString(
      <Layout title={page.title} sandboxed={page.sandboxed} viewer={page.viewer}>
        {page.body}
      </Layout>,
    );
  return c.html(html, status);
}
