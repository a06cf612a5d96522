/**
 * Key rotation: re-seals a grievance's personal data (and its attachments' names and
 * transcripts, and its history notes) under the current ENCRYPTION_KEY, and recomputes its blind
 * indexes, when they were sealed under the previous key (ENCRYPTION_KEY_PREVIOUS). Run for every
 * such grievance by `deno task grievances:rekey`; the classification job runs it for its own
 * grievance first, so what it adds is sealed under one key with the rest.
 */
import type { Sql } from "../db/mod.ts";
import type { Sealer } from "./sealing.ts";
import { contextOf, normaliseEmail, normalisePhone } from "./sealing.ts";
import { type GrievanceRow, SEALED_COLUMNS, type SealedColumn } from "./repository.ts";

/** Re-seals one grievance under the current key; false when it already was. */
export async function rekeyGrievance(sql: Sql, sealer: Sealer, id: string): Promise<boolean> {
  return await sql.begin(async (tx) => {
    const [row] = await tx<Pick<GrievanceRow, "key_id" | `${SealedColumn}_sealed`>[]>`
      select * from grievances where id = ${id} for update`;
    let changed = false;
    if (row && row.key_id !== sealer.keyId) {
      const values: Record<string, string | null> = {};
      for (const column of SEALED_COLUMNS) {
        const context = contextOf(column, id);
        const plain = await sealer.open(row[`${column}_sealed`], row.key_id, context);
        values[`${column}_sealed`] = await sealer.seal(plain, context);
        if (column === "phone") {
          const phone = plain && normalisePhone(plain);
          values.phone_index = phone ? await sealer.index("phone", phone) : null;
        }
        if (column === "email") {
          const email = plain && normaliseEmail(plain);
          values.email_index = email ? await sealer.index("email", email) : null;
        }
      }
      await tx`update grievances set ${tx(values)}, key_id = ${sealer.keyId} where id = ${id}`;
      changed = true;
    }
    const attachments = await tx<
      {
        id: string;
        key_id: string;
        filename_sealed: string | null;
        transcript_sealed: string | null;
      }[]
    >`select id, key_id, filename_sealed, transcript_sealed
      from grievance_attachments
      where grievance_id = ${id} and key_id <> ${sealer.keyId}`;
    for (const a of attachments) {
      const reseal = async (column: "filename" | "transcript") => {
        const context = contextOf(`attachment_${column}`, a.id);
        return await sealer.seal(
          await sealer.open(a[`${column}_sealed`], a.key_id, context),
          context,
        );
      };
      await tx`update grievance_attachments set filename_sealed = ${await reseal("filename")},
                 transcript_sealed = ${await reseal("transcript")}, key_id = ${sealer.keyId}
               where id = ${a.id}`;
      changed = true;
    }
    // The id is a bigint (read as a string); `key_id <> …` leaves out notes without a key.
    const notes = await tx<{ id: string; key_id: string; note_sealed: string | null }[]>`
      select id, key_id, note_sealed from grievance_history
      where grievance_id = ${id} and key_id <> ${sealer.keyId}`;
    for (const n of notes) {
      const context = contextOf("history_note", id);
      const plain = await sealer.open(n.note_sealed, n.key_id, context);
      await tx`update grievance_history set note_sealed = ${await sealer.seal(plain, context)},
                 key_id = ${sealer.keyId} where id = ${n.id}`;
      changed = true;
    }
    return changed;
  });
}

/** Grievances with anything sealed under another key than the current one. */
export async function staleGrievances(sql: Sql, keyId: string, limit = 500): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    select id from grievances where key_id <> ${keyId}
    union select grievance_id from grievance_attachments where key_id <> ${keyId}
    union select grievance_id from grievance_history where key_id <> ${keyId}
    limit ${limit}`;
  return rows.map((r) => r.id);
}
