/** The inputs of the admin's forms: a label, its input, and what the field is for. */
import type { ComponentChildren } from "preact";

/**
 * A labelled text input. `numeric` and `decimal` bring up a number pad on a phone; the server
 * still checks every value.
 */
export interface FieldProps {
  label: ComponentChildren;
  name: string;
  value: string | number | null | undefined;
  inputMode?: "numeric" | "decimal";
  type?: "text" | "password" | "url";
  required?: boolean;
  maxLength?: number;
  placeholder?: string;
  autocomplete?: string;
  hint?: ComponentChildren;
}

export function Field(props: FieldProps) {
  return (
    <label>
      {props.label}
      <input
        name={props.name}
        type={props.type}
        value={props.value === null || props.value === undefined ? "" : String(props.value)}
        inputMode={props.inputMode}
        required={props.required}
        maxLength={props.maxLength}
        placeholder={props.placeholder}
        autocomplete={props.autocomplete}
      />
      {props.hint && <small class="muted">{props.hint}</small>}
    </label>
  );
}

/** A checkbox with its label after it. */
export function Check(props: { name: string; checked: boolean; label: ComponentChildren }) {
  return (
    <label class="check">
      <input type="checkbox" name={props.name} checked={props.checked} /> {props.label}
    </label>
  );
}

/** A labelled choice among `options` (`[value, label]` pairs), the `current` value selected. */
export function Choice(props: {
  label: ComponentChildren;
  name: string;
  current: string | undefined;
  options: (readonly [value: string, label: string])[];
}) {
  return (
    <label>
      {props.label}
      <select name={props.name}>
        {props.options.map(([value, label]) => (
          <option value={value} selected={value === props.current}>{label}</option>
        ))}
      </select>
    </label>
  );
}

/** A form on a card of its own: its heading, then its fields; it posts with the CSRF token. */
export function CardForm(props: {
  action: string;
  title: ComponentChildren;
  csrf: string;
  children: ComponentChildren;
}) {
  return (
    <form method="post" action={props.action} class="card stack">
      <h3>{props.title}</h3>
      <input type="hidden" name="_csrf" value={props.csrf} />
      {props.children}
    </form>
  );
}
