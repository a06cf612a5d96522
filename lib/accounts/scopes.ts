/**
 * What an API key may do beyond acting as its owner: scopes, granted when the key is created.
 * A key without a scope is refused (403) the operations that require it, whatever its owner may
 * do when signed in. Every scope today is an admin's to grant, and counts only while the owner
 * is still an admin. The list is the CHECK of `api_keys.scopes` (migrations/0011, tested equal).
 */
export const API_KEY_SCOPES = ["notifications:publish", "notifications:manage"] as const;
export type ApiKeyScope = typeof API_KEY_SCOPES[number];

export const SCOPE_DESCRIPTIONS: Record<ApiKeyScope, string> = {
  "notifications:publish": "publish to notification topics (POST /api/v1/topics/{name}/publish)",
  "notifications:manage": "manage notification channels, topics and event routes, read the log",
};
