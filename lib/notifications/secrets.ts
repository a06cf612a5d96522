/**
 * A channel's secret (a Slack or Telegram token of its own, a webhook's signing secret) is never
 * part of its settings and never leaves the server: it is either *named* (a `NOTIFY_*`
 * environment variable, read once by lib/config.ts) or *stored* encrypted under ENCRYPTION_KEY
 * (lib/security/crypto.ts), bound to the channel's id so a sealed value copied to another row
 * does not open. Either way it is resolved only at send time.
 */
import type { Config } from "../config.ts";
import { decryptSecret, encryptSecret, SecretDecryptError } from "../security/crypto.ts";
import { SendError } from "./methods/types.ts";
import type { Secrets } from "./methods/types.ts";

const context = (channelId: string) => `notification_channels.secret:${channelId}`;

export function sealSecret(config: Config, channelId: string, value: string): Promise<string> {
  return encryptSecret(config.encryptionKey, value, context(channelId));
}

/** The secret of a channel row, resolved; a missing variable or a bad seal fails for good. */
export async function resolveSecrets(
  config: Config,
  row: { id: string; secret_env: string | null; secret_sealed: string | null },
): Promise<Secrets> {
  if (row.secret_env) {
    const value = config.notifications.envSecrets[row.secret_env];
    if (!value) throw new SendError(`the secret's variable ${row.secret_env} is not set`, false);
    return { secret: value };
  }
  if (row.secret_sealed) {
    try {
      return {
        secret: await decryptSecret(config.encryptionKey, row.secret_sealed, context(row.id)),
      };
    } catch (error) {
      if (error instanceof SecretDecryptError) {
        throw new SendError(`the stored secret cannot be read: ${error.message}`, false);
      }
      throw error;
    }
  }
  return {};
}
