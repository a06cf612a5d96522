/**
 * Inbound messages built from the parts a provider sent, the same way for Meta and Twilio: an
 * optional field is present only when the provider gave it a value, never as `undefined` or "".
 */
import type {
  InboundBase,
  InboundListReply,
  InboundLocation,
  InboundUnsupported,
} from "./types.ts";

/** `{ [key]: value }` when `value` is a non-empty string, else `{}`. */
export function given<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value ? { [key]: value } : {}) as { [P in K]?: string };
}

export function listReply(
  base: InboundBase,
  reply: { rowId: string; title: string; description?: string },
): InboundListReply {
  return {
    ...base,
    type: "list_reply",
    rowId: reply.rowId,
    title: reply.title,
    ...given("description", reply.description),
  };
}

export function sharedLocation(
  base: InboundBase,
  place: { latitude: number; longitude: number; name?: string; address?: string },
): InboundLocation {
  return {
    ...base,
    type: "location",
    latitude: place.latitude,
    longitude: place.longitude,
    ...given("name", place.name),
    ...given("address", place.address),
  };
}

export function unsupported(
  base: InboundBase,
  originalType: string,
  reason: string,
): InboundUnsupported {
  return { ...base, type: "unsupported", originalType, reason };
}
