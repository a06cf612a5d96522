/**
 * The queue as CSV (the officers' export). Every cell is quoted, and a cell that a spreadsheet
 * would read as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a
 * leading `'`, so an export opened in Excel or LibreOffice runs nothing a complainant wrote
 * (OWASP "CSV injection").
 *
 * The export carries what officers work with (reference, dates, status, priority, area,
 * categories, officer, SLA, the English summary); the complainant's contact details stay in the
 * application.
 */
import type { Grievance } from "./model.ts";

export function csvCell(value: unknown): string {
  let text = value === null || value === undefined
    ? ""
    : value instanceof Date
    ? value.toISOString()
    : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = "'" + text;
  return `"${text.replaceAll('"', '""')}"`;
}

export const CSV_COLUMNS = [
  "reference",
  "created_at",
  "channel",
  "status",
  "priority",
  "area",
  "categories",
  "assigned_to",
  "due_at",
  "overdue",
  "first_response_at",
  "resolved_at",
  "language",
  "summary",
] as const;

export function csvRow(g: Grievance): string {
  return [
    g.reference,
    g.createdAt,
    g.channel,
    g.status,
    g.priority,
    g.area?.name ?? "",
    g.categories.map((c) => c.slug).join(" "),
    g.assignedTo?.email ?? "",
    g.dueAt,
    g.overdue ? "yes" : "no",
    g.firstResponseAt,
    g.resolvedAt,
    g.language ?? "",
    g.summary ?? "",
  ].map(csvCell).join(",");
}

export const csvHeader = () => CSV_COLUMNS.map(csvCell).join(",");
