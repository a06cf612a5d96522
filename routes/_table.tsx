/**
 * A wide table that scrolls sideways on a narrow screen: the scrolling box is a named region a
 * keyboard can reach (focusable), or its hidden columns could not be scrolled to without a mouse.
 */
import type { ComponentChildren } from "preact";

export function ScrollTable(props: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-scroll" role="region" aria-label={props.label} tabIndex={0}>
      {props.children}
    </div>
  );
}

/** A table of data under its column headers, in a {@link ScrollTable}; `children` are its rows. */
export function DataTable(props: {
  label: string;
  testId: string;
  columns: ComponentChildren[];
  children: ComponentChildren;
}) {
  return (
    <ScrollTable label={props.label}>
      <table data-testid={props.testId}>
        <thead>
          <tr>
            {props.columns.map((column, i) => <th key={i} scope="col">{column}</th>)}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </ScrollTable>
  );
}
