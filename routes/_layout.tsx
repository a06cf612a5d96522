/** The page shell every server-rendered page shares (Fresh's `_app`/`_layout` role). */
import type { ComponentChildren } from "preact";
import { islandManifest } from "../lib/islands/manifest.ts";

export interface LayoutProps {
  title: string;
  children: ComponentChildren;
  /** Upstreams served by the sandbox: shown as a banner so nobody mistakes it for production. */
  sandboxed?: string[];
  /** Who is looking, for the header's log-in or log-out; left out, the header shows neither. */
  viewer?: Viewer;
}

/**
 * A signed-in viewer's header carries the log-out form (with the page's CSRF token) and, for staff
 * signed in with an admin session, a link to the part of /admin they may open.
 */
export type Viewer = { signedIn: true; csrf: string; staffHome?: string } | { signedIn: false };

export function Layout({ title, children, sandboxed = [], viewer }: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{title === "Hurukuro" ? title : `${title} · Hurukuro`}</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href="/static/app.css" />
        <script type="module" src={islandManifest().entry} />
      </head>
      <body>
        {sandboxed.length > 0 && (
          <div class="sandbox-banner" role="note">
            Sandbox: {sandboxed.join(", ")}{" "}
            answered by built-in test services. No real money or messages.
          </div>
        )}
        <header class="site">
          <a href="/" class="brand">Hurukuro</a>
          <nav class="site-nav">
            <a href="/chat">Chat</a>
            <a href="/bots">Bots</a>
            <a href="/account">Account</a>
            {viewer?.signedIn === true && viewer.staffHome && <a href={viewer.staffHome}>Admin</a>}
            {viewer?.signedIn === true && (
              <form method="post" action="/logout" class="nav-form">
                <input type="hidden" name="_csrf" value={viewer.csrf} />
                <button type="submit" class="link-button">Log out</button>
              </form>
            )}
            {viewer?.signedIn === false && <a href="/login">Log in</a>}
          </nav>
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}
