/**
 * What a hostile client sends, as fast-check arbitraries: text that databases and parsers trip
 * on, numbers at and past every limit, wrong types, deep nesting, and values shaped by an
 * OpenAPI schema (mostly right, often wrong), for the fuzz suite's API and form walks.
 */
import fc from "fast-check";

/** A JSON schema as the OpenAPI document gives it (the parts the walk reads). */
export interface Schema {
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  nullable?: boolean;
  $ref?: string;
}

/** One megabyte of text: built once, sent as is. */
export const MEGABYTE = "x".repeat(1024 * 1024);

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));

/** Characters that mean something to Postgres, JSON, URLs, HTML or bidirectional text. */
const trickyChar = fc.constantFrom(
  "\u0000",
  "\u0001",
  "\u001f",
  "\u007f",
  "\u200b", // zero-width space
  "\u200d", // zero-width joiner
  "\ufeff", // byte-order mark
  "\u202e", // right-to-left override
  "\u200f", // right-to-left mark
  "\u2028", // line separator
  "\ufffd",
  "'",
  '"',
  "\\",
  "%",
  "<",
  "&",
  "\n",
  "😀",
);

/** Strings short enough for a URL (a query value, a path segment, a header). */
export const hostileShortString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "a\u0000b",
    "\ud800",
    "x\udc00y",
    "\udfff\ud800",
    "\u202egnp.exe",
    "NaN",
    "Infinity",
    "-Infinity",
    "-0",
    "1e309",
    "0x1F",
    "9".repeat(40),
    "-1",
    "1.5",
    "null",
    "undefined",
    "true",
    "[]",
    "{}",
    "__proto__",
    "constructor",
    "' OR '1'='1' --",
    "<script>alert(1)</script>",
    "%00",
    "%",
    "%zz",
    "../../etc/passwd",
    "00000000-0000-0000-0000-000000000000",
    "2026-02-30T25:61:61Z",
  ),
  fc.string({ unit: fc.oneof(trickyChar, loneSurrogate, fc.string({ maxLength: 1 })) }),
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.string({ maxLength: 4000 }),
);

/** Any string, up to a megabyte. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: hostileShortString },
  { weight: 1, arbitrary: fc.constant(MEGABYTE) },
  { weight: 1, arbitrary: fc.constant(MEGABYTE.slice(1) + "\u0000") },
);

export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    -1,
    0.5,
    -0.5,
    1e308,
    -1e308,
    5e-324,
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 53 + 2,
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER,
  ),
  fc.integer(),
  // NaN and ±Infinity become `null` in JSON: the wrong type, which is the point.
  fc.double(),
);

function nested(depth: number, leaf: unknown, array: boolean): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = array ? [value] : { a: value };
  return value;
}

/** A value of any type: what a schema did not ask for. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  hostileNumber,
  fc.boolean(),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
  fc.constant(nested(2000, "deep", true)),
  fc.constant(nested(2000, "deep", false)),
  fc.array(hostileShortString, { maxLength: 3 }),
  fc.dictionary(hostileShortString, hostileShortString, { maxKeys: 3 }),
);

/** Resolves `$ref`s against the document's components. */
export type Resolve = (schema: Schema) => Schema;

/**
 * Arbitraries for the schemas of one API document: `resolve` follows its `$ref`s, and
 * `known.ids` are ids that exist (so some requests reach real rows).
 */
export function schemaArbitraries(resolve: Resolve, known: { ids: string[] }) {
  /** Values the schema accepts (or nearly: lengths and formats are guessed, not promised). */
  function validFor(schema: Schema): fc.Arbitrary<unknown> {
    const s = resolve(schema);
    const alternatives = s.anyOf ?? s.oneOf;
    if (alternatives) return fc.oneof(...alternatives.map(validFor));
    if (s.enum) return fc.constantFrom(...s.enum);
    const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
    switch (type) {
      case "string":
        if (s.format === "uuid") return fc.oneof(fc.uuid(), fc.constantFrom(...known.ids));
        if (s.format === "email") return fc.emailAddress();
        if (s.format === "date-time") {
          return fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) })
            .map((d) => d.toISOString());
        }
        return fc.string({
          minLength: s.minLength ?? 0,
          maxLength: Math.min(s.maxLength ?? 40, 200),
        });
      case "integer":
        return fc.integer({ min: s.minimum ?? -1000, max: s.maximum ?? 1_000_000 });
      case "number":
        return fc.double({ min: s.minimum ?? -1000, max: s.maximum ?? 1000, noNaN: true });
      case "boolean":
        return fc.boolean();
      case "array":
        return fc.array(s.items ? validFor(s.items) : hostileValue, { maxLength: 3 });
      case "object":
        return objectFor(s, "valid");
      default:
        return hostileValue;
    }
  }

  /** Mostly what the schema asks for, often something else (per field, so one bad field hides
   * in an otherwise good body). */
  function anyFor(schema: Schema): fc.Arbitrary<unknown> {
    const s = resolve(schema);
    const wrong = s.type === "string"
      ? fc.oneof(hostileString, hostileValue)
      : s.type === "integer" ||
          s.type === "number"
      ? fc.oneof(hostileNumber, hostileShortString, hostileValue)
      : s.type === "object"
      ? fc.oneof(objectFor(s, "any"), hostileValue)
      : hostileValue;
    return fc.oneof({ weight: 3, arbitrary: validFor(s) }, { weight: 2, arbitrary: wrong });
  }

  function objectFor(s: Schema, mode: "valid" | "any"): fc.Arbitrary<Record<string, unknown>> {
    const props = Object.entries(s.properties ?? {});
    const field = mode === "valid" ? validFor : anyFor;
    const model = Object.fromEntries(props.map(([k, v]) => [k, field(v)]));
    const complete = fc.record(model, { requiredKeys: s.required ?? [] });
    const partial = fc.record(model, { requiredKeys: [] });
    const extra = fc.dictionary(
      fc.oneof(hostileShortString, fc.constant("__proto__")),
      hostileValue,
      {
        maxKeys: 2,
      },
    );
    return mode === "valid" ? complete : fc.oneof(
      { weight: 4, arbitrary: complete },
      { weight: 2, arbitrary: partial },
      { weight: 1, arbitrary: fc.tuple(complete, extra).map(([a, b]) => ({ ...b, ...a })) },
    );
  }

  return { validFor, anyFor };
}

/** What {@link schemaArbitraries} gives. */
export type SchemaArbitraries = ReturnType<typeof schemaArbitraries>;

/** A request body as bytes on the wire: JSON of `value`, or JSON mangled in the ways parsers
 * meet in the wild. */
export function rawJsonBody(value: unknown): fc.Arbitrary<string | Uint8Array> {
  const text = JSON.stringify(value) ?? "null";
  return fc.oneof(
    { weight: 10, arbitrary: fc.constant(text) },
    {
      weight: 6,
      arbitrary: fc.constantFrom(
        // Duplicate keys: the last one wins in JSON.parse; the first one must not slip past.
        text.startsWith("{") && text !== "{}"
          ? `{"displayName":"\\u0000","text":"\\u0000",${text.slice(1)}`
          : text,
        text.startsWith("{") && text !== "{}" ? `${text.slice(0, -1)},"text":"\\ud800"}` : text,
        `[${text}]`,
        "[".repeat(50_000) + "]".repeat(50_000),
        '{"a":'.repeat(50_000) + "1" + "}".repeat(50_000),
        text.slice(0, Math.max(0, text.length - 1)),
        "\ufeff" + text,
        "",
        "null",
        "0",
        '"text"',
        "NaN",
        "{'single':'quotes'}",
        '{"__proto__":{"admin":true}}',
      ),
    },
    { weight: 1, arbitrary: fc.constant(new Uint8Array([0xff, 0xfe, 0x00, 0x7b, 0xc0, 0x80])) },
  );
}
