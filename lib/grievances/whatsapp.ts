/**
 * The WhatsApp side of intake: the port the "Report a problem" flow (lib/whatsapp/bot/flows/
 * report.ts) talks to. Attachments are the files the channel downloaded (`whatsapp_media`),
 * checked by content like any other; the report is filed with the phone it came from, and the
 * inbound messages that carried its words are redacted from the channel's record once the
 * grievance holds them sealed.
 */
import type { Enqueuer } from "../jobs/types.ts";
import type { GrievancePort, MediaCheck, ReportDraft } from "../whatsapp/bot/types.ts";
import { formatMegabytes, limitFor } from "./attachments.ts";
import { ACCEPTED_TYPES } from "./attachments.ts";
import type { GrievancesDeps } from "./deps.ts";
import { type AcceptedFile, screenAttachments, submitGrievance } from "./intake.ts";
import { areaInText, listAreas } from "./taxonomy.ts";

const draftContext = (phone: string) => `grievances.draft:${phone}`;

interface Place {
  text?: string;
  latitude?: number;
  longitude?: number;
  name?: string;
  address?: string;
}

/** The file the channel kept for `inboundId`, with the name the sender gave it. */
async function mediaFile(
  deps: GrievancesDeps,
  inboundId: string,
): Promise<{ bytes: Uint8Array; filename?: string } | null> {
  const [row] = await deps.db.sql<{ path: string; filename: string | null }[]>`
    select m.path, i.message->>'filename' as filename
    from whatsapp_media m join whatsapp_inbound i on i.id = m.inbound_id
    where m.inbound_id = ${inboundId}`;
  if (!row) return null;
  try {
    return { bytes: await Deno.readFile(row.path), filename: row.filename ?? undefined };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

export function whatsappPort(deps: GrievancesDeps, jobs: Enqueuer): GrievancePort {
  const { sealer } = deps;
  return {
    trackUrl: `${deps.config.publicUrl}/track`,
    seal: async (text, phone) => (await sealer.seal(text, draftContext(phone)))!,
    open: async (sealed, phone) =>
      (await sealer.open(sealed, sealer.keyId, draftContext(phone))) ?? "",
    async checkMedia(inboundId): Promise<MediaCheck> {
      const file = await mediaFile(deps, inboundId);
      if (!file) {
        return { ok: false, message: "That file could not be kept. Please send it again." };
      }
      const { refused } = await screenAttachments([file]);
      return refused.length ? { ok: false, message: refused[0].message } : { ok: true };
    },
    refusal(reason, mimeType) {
      if (reason === "size") {
        const rule = mimeType ? limitFor(mimeType) : undefined;
        return rule
          ? `That file is too large: a ${rule.label} may be at most ${
            formatMegabytes(rule.maxBytes)
          }.`
          : `That file is too large. We accept ${ACCEPTED_TYPES}.`;
      }
      if (reason === "type") {
        return `That type of file is not accepted. We accept ${ACCEPTED_TYPES}.`;
      }
      return "That file could not be received. Please send it again.";
    },
    async submit({ phone, name, draft, intakeKey }) {
      const description = await sealer.open(draft.description, sealer.keyId, draftContext(phone));
      const place: Place | null = draft.location
        ? JSON.parse((await sealer.open(draft.location, sealer.keyId, draftContext(phone)))!)
        : null;
      const files = (await Promise.all(draft.media.map((id) => mediaFile(deps, id))))
        .filter((f) => f !== null);
      const { accepted } = await screenAttachments(files);
      const areas = place?.text ? await listAreas(deps.db.sql) : [];
      const address = place?.text ??
        (place?.latitude !== undefined
          ? [place.address ?? place.name, `${place.latitude}, ${place.longitude}`]
            .filter(Boolean).join(" — ")
          : null);
      const submitted = await submitGrievance(deps, jobs, {
        channel: "whatsapp",
        name,
        phone,
        address,
        description: description ?? "",
        areaId: place?.text ? areaInText(areas, place.text)?.id ?? null : null,
        location: place?.latitude !== undefined
          ? { latitude: place.latitude, longitude: place.longitude! }
          : null,
        attachments: accepted as AcceptedFile[],
        intakeKey,
      });
      await redact(deps, draft, submitted.reference);
      return { reference: submitted.reference };
    },
  };
}

/** The report's words leave the channel's record: the grievance holds them sealed. */
async function redact(deps: GrievancesDeps, draft: ReportDraft, reference: string) {
  if (draft.messages.length === 0) return;
  const note = `[part of report ${reference}]`;
  await deps.db.sql`
    update whatsapp_inbound set message = case
        when message->>'type' = 'location'
          then (message - 'latitude' - 'longitude' - 'name' - 'address')
               || jsonb_build_object('latitude', 0, 'longitude', 0, 'name', ${note}::text)
        else message || jsonb_build_object('text', ${note}::text) end
    where id = any(${draft.messages}::uuid[])`;
}
