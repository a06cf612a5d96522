/**
 * Following a report (`/track`): the reference and the phone number it was made with. A
 * reference that does not match the phone answers exactly as an unknown one — the same
 * "not found", after the same work (the phone's index is always computed and compared, against
 * a stand-in when there is no such reference) — so the page cannot be used to learn which
 * references exist.
 *
 * What the complainant sees: the status and its dates, the categories, the summary in their
 * language, the officer's answer, and their own attachments (served through a short-lived
 * tracking pass, routes/track.tsx). Never an officer's name or note.
 */
import { timingSafeEqual } from "../security/tokens.ts";
import type { GrievancesDeps } from "./deps.ts";
import { normaliseReference } from "./model.ts";
import { rowByReference, toGrievance } from "./repository.ts";
import { normalisePhone } from "./sealing.ts";
import type { Grievance } from "./model.ts";

const STAND_IN = "0".repeat(64);

/** The grievance `reference` names, if `phone` is the one it was made with; else null. */
export async function trackGrievance(
  deps: GrievancesDeps,
  input: { reference: string; phone: string },
): Promise<Grievance | null> {
  const reference = normaliseReference(input.reference) ?? "GRV-0000-00000";
  const phone = normalisePhone(input.phone) ?? "+0";
  const [row, indexes] = await Promise.all([
    rowByReference(deps.db.sql, reference),
    deps.sealer.indexes("phone", phone),
  ]);
  const stored = row?.phone_index ?? STAND_IN;
  let match = false;
  for (const index of indexes) match = timingSafeEqual(stored, index) || match;
  if (!row || !match) return null;
  return await toGrievance(deps.sealer, row);
}
