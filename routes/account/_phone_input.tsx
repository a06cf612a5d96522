/** The input of a Zimbabwean mobile number: the phone's number pad, its autofill, an example. */
export function PhoneInput(props: { value: string; required?: boolean }) {
  return (
    <input
      name="phone"
      type="tel"
      inputMode="tel"
      autocomplete="tel"
      placeholder="0771234567"
      value={props.value}
      required={props.required}
    />
  );
}
