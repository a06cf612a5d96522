/** What the grievances domain is built from (createGrievances in mod.ts). */
import type { Config } from "../config.ts";
import type { Database } from "../db/mod.ts";
import type { Logger } from "../observability/log.ts";
import type { FileStore } from "../storage/files.ts";
import type { WhatsAppProvider } from "../whatsapp/types.ts";
import type { AiUpstream } from "./ai.ts";
import type { Sealer } from "./sealing.ts";

export interface GrievancesDeps {
  db: Database;
  log: Logger;
  config: Config;
  /** Seals personal data and computes the blind indexes (sealing.ts). */
  sealer: Sealer;
  /** Attachments and thumbnails (UPLOADS_DIR). */
  files: FileStore;
  /** The AI upstream that classifies and transcribes (the default AI configuration's). */
  ai: () => Promise<AiUpstream | null>;
  /** Answers to WhatsApp complainants go through its outbox; null when WhatsApp is off. */
  whatsapp: WhatsAppProvider | null;
  /** Where the WhatsApp channel keeps downloaded media (its files are copied from there). */
  mediaDir?: string;
  now?: () => Date;
}
