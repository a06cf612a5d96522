/**
 * Zimbabwean mobile numbers, as people type them, for express checkout.
 *
 * Accepted: `07XXXXXXXX`, `+2637XXXXXXXX`, `2637XXXXXXXX` (spaces, dashes, dots and brackets
 * are ignored). Paynow wants the local form (`0771111111`) in `phone`; we store E.164.
 * Mobile ranges: 071 NetOne (OneMoney), 073 Telecel, 077 and 078 Econet (EcoCash). Landlines and
 * unassigned 07x ranges are refused with a message that says what to type instead.
 */

export type ZimbabweNetwork = "netone" | "telecel" | "econet";

/** The network that owns each mobile prefix (the digit after `07`). */
const NETWORKS: Readonly<Record<string, ZimbabweNetwork>> = {
  "1": "netone",
  "3": "telecel",
  "7": "econet",
  "8": "econet",
};

export interface ZimbabweMobile {
  /** `+263771234567` */
  e164: string;
  /** `0771234567`, the form Paynow expects in `phone`. */
  local: string;
  network: ZimbabweNetwork;
}

export type PhoneResult =
  | ({ ok: true } & ZimbabweMobile)
  | { ok: false; message: string };

/**
 * Validates and normalises a Zimbabwean mobile number. Returns a result rather than throwing so
 * that it plugs into a zod `transform`/`superRefine` and the message reaches the user as is.
 */
export function parseZimbabweMobile(input: string): PhoneResult {
  const compact = input.trim().replace(/[\s\-.()]/g, "");
  if (compact === "") return { ok: false, message: "Enter a phone number." };
  if (!/^\+?\d+$/.test(compact)) {
    return { ok: false, message: "A phone number has only digits (and an optional leading +)." };
  }
  const digits = compact.replace(/^\+/, "");
  let national: string;
  if (digits.startsWith("2630")) {
    return {
      ok: false,
      message: "Drop the 0 after the country code: +263 7X XXX XXXX or 07X XXX XXXX.",
    };
  } else if (digits.startsWith("263")) {
    national = digits.slice(3);
  } else if (!compact.startsWith("+") && digits.startsWith("0")) {
    national = digits.slice(1);
  } else {
    return {
      ok: false,
      message: "Only Zimbabwean mobile numbers are accepted: 07X XXX XXXX or +263 7X XXX XXXX.",
    };
  }
  if (!national.startsWith("7")) {
    return {
      ok: false,
      message: "That is not a mobile number: Zimbabwean mobile numbers start with 07 (+263 7).",
    };
  }
  if (national.length !== 9) {
    return {
      ok: false,
      message: `A Zimbabwean mobile number has 10 digits starting with 07 (got ${
        national.length + 1
      }).`,
    };
  }
  const network = NETWORKS[national[1]];
  if (!network) {
    return {
      ok: false,
      message: `07${
        national[1]
      } is not a mobile network prefix: use a 071, 073, 077 or 078 number.`,
    };
  }
  return { ok: true, e164: `+263${national}`, local: `0${national}`, network };
}
