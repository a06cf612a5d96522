/** Key figures as pages and islands show them (both use this one). */
import type { ComponentChildren } from "preact";

/** One key figure in a row of them (`.kpis`): its label, the figure, and a note under it. */
export function Kpi(props: {
  label: ComponentChildren;
  value: ComponentChildren;
  note?: ComponentChildren;
  testId?: string;
}) {
  return (
    <div class="kpi">
      <span class="kpi-label">{props.label}</span>
      <strong data-testid={props.testId}>{props.value}</strong>
      {props.note !== undefined && <small>{props.note}</small>}
    </div>
  );
}
