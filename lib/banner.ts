import type { Services } from "./app.ts";

/**
 * What a person starting the server needs, in a few lines: where it runs, where the dashboard
 * and the API documentation are, whether the sandbox answers for upstreams, and the sign-in of an
 * admin created by this very start (shown this once; it is never logged).
 */
export function startBanner(
  running: Pick<Services, "config" | "firstAdmin"> & { url: string },
): string {
  const { url, config, firstAdmin } = running;
  const sandbox = config.sandboxed.length ? `on (${config.sandboxed.join(", ")})` : "off";
  const lines = [
    `Hurukuro is running at ${url}`,
    `  Admin:    ${url}/admin`,
    `  API docs: ${url}/api/docs`,
    `  Sandbox:  ${sandbox}`,
  ];
  if (firstAdmin) {
    lines.push(
      `  An admin was created for development; sign in once with it (shown only now):`,
      `    e-mail:   ${firstAdmin.email}`,
      `    password: ${firstAdmin.password}`,
    );
  }
  return lines.join("\n");
}
