/**
 * The admin's lists, one way: a filters form (a GET back to the page), a table described by its
 * columns, and a pager — by page number (`?page=`) or by cursor ("Older" after the last row
 * shown, "Newest" back to the start). A list page says what its columns and filters are; how
 * they render is here.
 */
import type { Context } from "hono";
import type { ComponentChildren } from "preact";
import type { AuthEnv } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { adminPage, EmptyRow, pageOf, Pager, Table, withQuery } from "./_layout.tsx";

/** One column: its heading and what each row shows in it. */
export interface Column<R> {
  label: string;
  /** A number: right-aligned, heading too. */
  num?: boolean;
  /** More classes for the cell, fixed or from the row. */
  class?: string | ((row: R) => string);
  /** The cells' `data-testid`. */
  testId?: string;
  cell: (row: R) => ComponentChildren;
}

type Option = string | readonly [value: string, label: string];

/** One field of a filters form; a select offers "any" (the empty value) first. */
export type Filter =
  | { select: string; label: string; value: string; options: readonly Option[] }
  | {
    input: string;
    label: string;
    value: string;
    type?: "search" | "date" | "text";
    placeholder?: string;
  }
  | { hidden: string; value: string };

function FilterField({ filter }: { filter: Filter }) {
  if ("hidden" in filter) return <input type="hidden" name={filter.hidden} value={filter.value} />;
  if ("select" in filter) {
    return (
      <label>
        {filter.label}
        <select name={filter.select}>
          <option value="">any</option>
          {filter.options.map((o) => {
            const [value, label] = typeof o === "string" ? [o, o] : o;
            return (
              <option key={value} value={value} selected={value === filter.value}>{label}</option>
            );
          })}
        </select>
      </label>
    );
  }
  return (
    <label>
      {filter.label}
      <input
        type={filter.type ?? "text"}
        name={filter.input}
        value={filter.value}
        placeholder={filter.placeholder}
        autocomplete={filter.type === "search" ? "off" : undefined}
      />
    </label>
  );
}

/** The filters of a list: a GET form back to `action`; `search` marks it as the page's search. */
export function FilterForm(
  props: { action: string; filters: Filter[]; submit?: string; search?: boolean },
) {
  return (
    <form
      method="get"
      action={props.action}
      class="filters"
      role={props.search ? "search" : undefined}
    >
      {props.filters.map((filter, i) => <FilterField key={i} filter={filter} />)}
      <button type="submit">{props.submit ?? "Filter"}</button>
    </form>
  );
}

function cellClass<R>(column: Column<R>, row: R): string | undefined {
  const extra = typeof column.class === "function" ? column.class(row) : column.class;
  return [column.num ? "num" : "", extra ?? ""].filter(Boolean).join(" ") || undefined;
}

interface ListTableProps<R> {
  label: string;
  columns: Column<R>[];
  rows: R[];
  empty?: ComponentChildren;
  /** Attributes of a row's `<tr>` (`data-…` for tests and styles). */
  rowAttributes?: (row: R) => Record<string, string>;
  /** The `data-testid` of the rows' `<tbody>`. */
  testId?: string;
}

/** A table of `rows` by `columns`, with `empty` (if given) in place of rows when there are none. */
export function ListTable<R>(props: ListTableProps<R>) {
  return (
    <Table label={props.label}>
      <thead>
        <tr>
          {props.columns.map((c) => (
            <th key={c.label} class={c.num ? "num" : undefined}>{c.label}</th>
          ))}
        </tr>
      </thead>
      <tbody data-testid={props.testId}>
        {props.rows.map((row) => (
          <tr {...props.rowAttributes?.(row)}>
            {props.columns.map((c) => (
              <td key={c.label} class={cellClass(c, row)} data-testid={c.testId}>{c.cell(row)}</td>
            ))}
          </tr>
        ))}
        <EmptyRow
          when={props.rows.length === 0 && props.empty !== undefined}
          columns={props.columns.length}
        >
          {props.empty}
        </EmptyRow>
      </tbody>
    </Table>
  );
}

/** A {@link ListTable} under its heading `title`, which also labels the table. */
export function TitledList<R>(
  { title, ...table }: Omit<ListTableProps<R>, "label"> & { title: string },
) {
  return (
    <>
      <h2>{title}</h2>
      <ListTable label={title} {...table} />
    </>
  );
}

/** A button in a row that posts (with the page's CSRF token) to `action`. */
export function RowAction(
  props: { action: string; csrf: string; label: string; danger?: boolean },
) {
  return (
    <form method="post" action={props.action}>
      <input type="hidden" name="_csrf" value={props.csrf} />
      <button type="submit" class={props.danger ? "danger" : undefined}>{props.label}</button>
    </form>
  );
}

/** "← Newest" back to the first page of a cursor list, "Older →" to the next one. */
export function CursorPager(props: { newest?: string | null; older?: string | null }) {
  if (!props.newest && !props.older) return null;
  return (
    <nav class="pager" aria-label="Pages">
      {props.newest && <a href={props.newest}>← Newest</a>}
      {props.older && <a href={props.older} rel="next">Older →</a>}
    </nav>
  );
}

/**
 * Where a list goes next: numbered pages (the rows given are one page and one row more, which
 * says another page exists), or a cursor.
 */
export type Paging =
  | { page: number; limit: number }
  | { newest?: string | null; older?: string | null };

/** The search box of a list page: `q`, searched on submit. */
export function searchBox(action: string, q: string, placeholder: string) {
  return {
    action,
    search: true,
    submit: "Search",
    filters: [{ input: "q", label: "Search", type: "search", value: q, placeholder }] as Filter[],
  };
}

/** The words searched for (`?q=`), trimmed and bounded. */
export const searchedFor = (c: Context) => (c.req.query("q") ?? "").trim().slice(0, 100);

/** A list page's body: filters, the table, the pager. */
export function AdminList<R>(props: {
  c: Context;
  filters?: { action: string; filters: Filter[]; submit?: string; search?: boolean };
  label: string;
  columns: Column<R>[];
  rows: R[];
  empty: ComponentChildren;
  rowAttributes?: (row: R) => Record<string, string>;
  paging: Paging;
}) {
  const { c, paging } = props;
  const rows = "page" in paging ? props.rows.slice(0, paging.limit) : props.rows;
  return (
    <>
      {props.filters && <FilterForm {...props.filters} />}
      <ListTable
        label={props.label}
        columns={props.columns}
        rows={rows}
        empty={props.empty}
        rowAttributes={props.rowAttributes}
      />
      {"page" in paging
        ? <Pager c={c} page={paging.page} hasMore={props.rows.length > paging.limit} />
        : <CursorPager newest={paging.newest} older={paging.older} />}
    </>
  );
}

/**
 * A list page searched with one box (`?q=`) and paged by number: `search` finds one page's rows
 * (and one more) for the words searched for. The page's path is its section and the box's target.
 */
export async function searchListPage<R>(
  c: Context<AuthEnv>,
  ctx: AppContext,
  list: {
    title: string;
    section: string;
    searchHint: string;
    columns: Column<R>[];
    empty: string;
    search: (q: string, page: { limit: number; offset: number }) => Promise<R[]>;
  },
): Promise<Response> {
  const q = searchedFor(c);
  const { page, offset, limit } = pageOf(c);
  const rows = await list.search(q, { limit, offset });
  return adminPage(c, ctx, {
    title: list.title,
    section: list.section,
    children: (
      <AdminList
        c={c}
        filters={searchBox(list.section, q, list.searchHint)}
        label={list.title}
        columns={list.columns}
        rows={rows}
        empty={list.empty}
        paging={{ page, limit }}
      />
    ),
  });
}

/** The page's own URL with `before` set to `cursor` (null: the newest page). */
export const cursorUrl = (c: Context, cursor: string | null) => withQuery(c, { before: cursor });
