/**
 * The admin forms of notification channels and topics: their fields, and the form's values
 * turned into what lib/notifications takes (which checks them: a refusal names the field).
 * One form serves every method, its settings grouped by method; only the chosen method's group
 * is read. Secrets are write-only: a password field never filled in, and a choice of keeping,
 * naming (a NOTIFY_* variable), storing or removing one.
 */
import type { ChannelInput } from "../../lib/notifications/channels.ts";
import { type Method, METHOD_MODULES, METHODS } from "../../lib/notifications/methods/mod.ts";
import type { Channel, Topic } from "../../lib/notifications/model.ts";
import type { TopicInput } from "../../lib/notifications/topics.ts";
import { Field, type FieldProps } from "./_fields.tsx";

const list = (s: string | undefined) =>
  (s ?? "").split(/[\s,;]+/).map((x) => x.trim()).filter(Boolean);

/** The form's values as a channel; the settings are those of the chosen method. */
export function channelInput(v: Record<string, string>, editing: boolean): ChannelInput {
  const method = v.method ?? "";
  const settings: Record<string, unknown> = {
    email: { to: list(v.to), subject: v.subject ?? "" },
    slack: { channel: (v.channel ?? "").trim() },
    telegram: { chat_id: (v.chat_id ?? "").trim() },
    whatsapp: {
      numbers: list(v.numbers),
      ...(v.template?.trim()
        ? {
          template: {
            name: v.template.trim(),
            ...(v.template_language?.trim() ? { language: v.template_language.trim() } : {}),
          },
        }
        : {}),
    },
    webhook: { url: (v.url ?? "").trim() },
  }[method] as Record<string, unknown> ?? {};
  const mode = v.secret_mode ?? (editing ? "keep" : "none");
  const secret = mode === "env"
    ? { env: (v.secret_env ?? "").trim() }
    : mode === "value"
    ? { value: v.secret_value ?? "" }
    : mode === "none"
    ? (editing ? null : undefined)
    : undefined;
  return { name: v.name ?? "", method, settings, secret };
}

/** The topic; its channels are the ticked `channel_<id>` boxes. */
export function topicInput(v: Record<string, string>): TopicInput {
  const channelIds = Object.keys(v).filter((k) => k.startsWith("channel_") && v[k] === "on")
    .map((k) => k.slice("channel_".length));
  return { name: v.name ?? "", description: v.description ?? "", channelIds };
}

/** Each method's settings fields, shown in a group of their own; `channelInput` reads them. */
const SETTINGS_FIELDS: Record<Method, Omit<FieldProps, "value">[]> = {
  email: [
    { label: "To (addresses, comma-separated)", name: "to" },
    { label: "Subject", name: "subject", maxLength: 200 },
  ],
  slack: [{ label: "Channel", name: "channel", placeholder: "#alerts" }],
  telegram: [{ label: "Chat id", name: "chat_id", placeholder: "-1001234567890" }],
  whatsapp: [
    { label: "Numbers (E.164, comma-separated)", name: "numbers", placeholder: "+263771234567" },
    { label: "Template for outside the 24-hour window", name: "template" },
    { label: "Template language", name: "template_language" },
  ],
  webhook: [{ label: "URL (https)", name: "url", type: "url" }],
};

const text = (x: unknown) => x === undefined || x === null ? "" : String(x);

/** The fields of a channel (its current values when editing; what was typed after a refusal). */
export function ChannelFields(
  props: { channel?: Channel; values?: Record<string, string>; csrf: string; submit: string },
) {
  const ch = props.channel;
  const s = (ch?.settings ?? {}) as Record<string, unknown>;
  const template = s.template as { name?: string; language?: string } | undefined;
  const v = props.values ?? {
    name: ch?.name ?? "",
    method: ch?.method ?? "email",
    to: ((s.to as string[] | undefined) ?? []).join(", "),
    subject: text(s.subject),
    channel: text(s.channel),
    chat_id: text(s.chat_id),
    numbers: ((s.numbers as string[] | undefined) ?? []).join(", "),
    template: text(template?.name),
    template_language: text(template?.language),
    url: text(s.url),
  };
  const secretNow = ch?.secret.source === "env"
    ? `named: ${ch.secret.name}`
    : ch?.secret.source === "stored"
    ? "stored (encrypted)"
    : "none";
  return (
    <>
      <input type="hidden" name="_csrf" value={props.csrf} />
      <Field label="Name" name="name" value={v.name} required maxLength={80} />
      <label>
        Method
        <select name="method">
          {METHODS.map((m) => (
            <option value={m} selected={v.method === m}>{METHOD_MODULES[m].label}</option>
          ))}
        </select>
      </label>
      {METHODS.map((m) => (
        <fieldset key={m}>
          <legend>{METHOD_MODULES[m].label}</legend>
          {SETTINGS_FIELDS[m].map((f) => <Field key={f.name} {...f} value={v[f.name]} />)}
        </fieldset>
      ))}
      <fieldset>
        <legend>Secret (now: {secretNow})</legend>
        <p class="muted">
          Slack and Telegram use the app's token unless given one; a webhook needs its signing
          secret. A secret is never shown again.
        </p>
        {ch && (
          <label class="check">
            <input type="radio" name="secret_mode" value="keep" checked /> Keep as it is
          </label>
        )}
        <label class="check">
          <input type="radio" name="secret_mode" value="none" checked={!ch} />{" "}
          {ch ? "Remove it" : "None"}
        </label>
        <label class="check">
          <input type="radio" name="secret_mode" value="env" /> Read it from the variable
          <input name="secret_env" placeholder="NOTIFY_OPS_WEBHOOK" autocomplete="off" />
        </label>
        <label class="check">
          <input type="radio" name="secret_mode" value="value" /> Store this value (encrypted)
          <input name="secret_value" type="password" autocomplete="new-password" />
        </label>
      </fieldset>
      <button type="submit">{props.submit}</button>
    </>
  );
}

export function TopicFields(
  props: {
    topic?: Topic;
    values?: Record<string, string>;
    channels: Channel[];
    csrf: string;
    submit: string;
  },
) {
  const t = props.topic;
  const v = props.values ?? { name: t?.name ?? "", description: t?.description ?? "" };
  const chosen = new Set(t?.channelIds ?? []);
  return (
    <>
      <input type="hidden" name="_csrf" value={props.csrf} />
      <Field label="Name" name="name" value={v.name} required maxLength={100} />
      <Field label="Description" name="description" value={v.description} maxLength={500} />
      <fieldset>
        <legend>Channels</legend>
        {props.channels.length === 0 && <p class="muted">Create a channel first.</p>}
        {props.channels.map((ch) => (
          <label class="check">
            <input type="checkbox" name={`channel_${ch.id}`} checked={chosen.has(ch.id)} />{" "}
            {ch.name} <small class="muted">({METHOD_MODULES[ch.method].label})</small>
          </label>
        ))}
      </fieldset>
      <button type="submit">{props.submit}</button>
    </>
  );
}
