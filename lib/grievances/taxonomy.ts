/**
 * What admins set up for grievances: the categories the AI classifies into, the areas
 * grievances belong to (and officers may be limited to), and the SLA hours of each priority.
 */
import type { Sql } from "../db/mod.ts";
import { isUniqueViolation } from "../db/errors.ts";
import type { Tx } from "../wallet/ledger.ts";
import { AppError } from "../errors.ts";
import {
  type Area,
  type AreaRow,
  type Category,
  type CategoryRow,
  isUuid,
  PRIORITIES,
  type Priority,
  toArea,
  toCategory,
} from "./model.ts";

export async function listCategories(sql: Sql, activeOnly = false): Promise<Category[]> {
  const rows = activeOnly
    ? await sql<
      CategoryRow[]
    >`select * from grievance_categories where active order by position, name`
    : await sql<CategoryRow[]>`select * from grievance_categories order by position, name`;
  return rows.map(toCategory);
}

export interface CategoryInput {
  slug: string;
  name: string;
  description: string;
  active: boolean;
  position: number;
}

const SLUG = /^[a-z0-9][a-z0-9_-]{0,39}$/;

function checkCategory(input: CategoryInput): void {
  if (!SLUG.test(input.slug)) {
    throw new AppError(
      "validation_failed",
      "slug: use 1 to 40 lower-case letters, digits, dashes or underscores.",
      { field: "slug" },
    );
  }
  if (!input.name.trim() || input.name.length > 100) {
    throw new AppError("validation_failed", "name: give a name of 1 to 100 characters.", {
      field: "name",
    });
  }
}

/** Creates a category, or updates the one with this slug (slugs are stable). */
export async function saveCategory(sql: Tx, input: CategoryInput): Promise<Category> {
  checkCategory(input);
  const [row] = await sql<CategoryRow[]>`
    insert into grievance_categories (slug, name, description, active, position)
    values (${input.slug}, ${input.name.trim()}, ${input.description.trim().slice(0, 500)},
            ${input.active}, ${input.position})
    on conflict (slug) do update set name = excluded.name, description = excluded.description,
      active = excluded.active, position = excluded.position, updated_at = now()
    returning *`;
  return toCategory(row);
}

export async function listAreas(sql: Sql): Promise<Area[]> {
  return (await sql<AreaRow[]>`select * from grievance_areas order by name`).map(toArea);
}

export async function createArea(
  sql: Tx,
  input: { name: string; latitude: number | null; longitude: number | null },
): Promise<Area> {
  const name = input.name.trim();
  if (!name || name.length > 100) {
    throw new AppError("validation_failed", "name: give a name of 1 to 100 characters.", {
      field: "name",
    });
  }
  const bad = (v: number | null, max: number) => v !== null && !(Math.abs(v) <= max);
  if (
    (input.latitude === null) !== (input.longitude === null) || bad(input.latitude, 90) ||
    bad(input.longitude, 180)
  ) {
    throw new AppError(
      "validation_failed",
      "latitude, longitude: give both (−90…90, −180…180) or neither.",
      { field: "latitude" },
    );
  }
  try {
    const [row] = await sql<AreaRow[]>`insert into grievance_areas (name, latitude, longitude)
                            values (${name}, ${input.latitude}, ${input.longitude})
                            returning *`;
    return toArea(row);
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new AppError("conflict", `An area named "${name}" exists.`, { field: "name" });
    }
    throw error;
  }
}

export async function deleteArea(sql: Tx, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  return (await sql`delete from grievance_areas where id = ${id} returning 1`).length > 0;
}

/** The area a typed place names: the longest area name found in the text as a word. */
export function areaInText(areas: Area[], text: string): Area | null {
  const lower = ` ${text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, " ")} `;
  let best: Area | null = null;
  for (const area of areas) {
    const name = area.name.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, " ").trim();
    if (name && lower.includes(` ${name} `) && (!best || name.length > best.name.length)) {
      best = area;
    }
  }
  return best;
}

/** Kilometres between two points (haversine). */
function distanceKm(a: [number, number], b: [number, number]): number {
  const rad = Math.PI / 180;
  const dLat = (b[0] - a[0]) * rad;
  const dLon = (b[1] - a[1]) * rad;
  const h = Math.sin(dLat / 2) ** 2 +
    Math.cos(a[0] * rad) * Math.cos(b[0] * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(h));
}

/** A shared location's area: the nearest area centre within `withinKm`. */
export function nearestArea(
  areas: Area[],
  latitude: number,
  longitude: number,
  withinKm = 100,
): Area | null {
  let best: { area: Area; km: number } | null = null;
  for (const area of areas) {
    if (area.latitude === null || area.longitude === null) continue;
    const km = distanceKm([latitude, longitude], [area.latitude, area.longitude]);
    if (km <= withinKm && (!best || km < best.km)) best = { area, km };
  }
  return best?.area ?? null;
}

export async function officerAreas(sql: Sql, userId: string): Promise<string[]> {
  const rows = await sql<{ area_id: string }[]>`select area_id from grievance_officer_areas
                                                where user_id = ${userId}`;
  return rows.map((r) => r.area_id);
}

/** Limits an officer to `areaIds` (none: every area). */
export async function setOfficerAreas(sql: Sql, userId: string, areaIds: string[]) {
  const ids = [...new Set(areaIds.filter(isUuid))];
  await sql.begin(async (tx) => {
    await tx`delete from grievance_officer_areas where user_id = ${userId}`;
    if (ids.length > 0) {
      await tx`insert into grievance_officer_areas (user_id, area_id)
               select ${userId}, id from grievance_areas where id = any(${ids}::uuid[])`;
    }
  });
}

export async function slaHours(sql: Sql): Promise<Record<Priority, number>> {
  const rows = await sql<{ priority: Priority; sla_hours: number }[]>`
    select priority, sla_hours from grievance_priorities`;
  const out = Object.fromEntries(PRIORITIES.map((p) => [p, 0])) as Record<Priority, number>;
  for (const r of rows) out[r.priority] = Number(r.sla_hours);
  return out;
}

export async function setSlaHours(sql: Tx, priority: Priority, hours: number): Promise<void> {
  if (!Number.isInteger(hours) || hours < 1 || hours > 8760) {
    throw new AppError("validation_failed", `${priority}: give whole hours from 1 to 8760.`, {
      field: priority,
    });
  }
  await sql`update grievance_priorities set sla_hours = ${hours} where priority = ${priority}`;
}
