/**
 * Rows read as domain objects. A column is most often a field of the domain type under its
 * snake_case name (`created_at` holds `createdAt`), read as it is: {@link fieldsOf} copies those,
 * so a mapping function writes out only the columns it converts. It keeps the order of the
 * domain type's fields (some objects go out as JSON as they are), interleaving runs of copied
 * columns with the converted ones.
 */

/** `created_at` → `createdAt`. */
type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Head}${Capitalize<CamelCase<Tail>>}`
  : S;

type Digit = "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9";

/** `createdAt` → `created_at`, `pricePer1k` → `price_per_1k` (`Previous`: the character before). */
type SnakeCase<S extends string, Previous extends string = ""> = S extends
  `${infer Head}${infer Tail}` ? `${SnakeChar<Head, Previous>}${SnakeCase<Tail, Head>}` : S;

/** An upper-case letter, or the first digit of a number, starts a word. */
type SnakeChar<C extends string, Previous extends string> = C extends Digit
  ? Previous extends Digit | "" ? C : `_${C}`
  : C extends Lowercase<C> ? C
  : `_${Lowercase<C>}`;

/** The row a domain type is read from: each of its fields a column of the same type. */
export type ColumnsOf<T> = { [F in keyof T & string as SnakeCase<F>]: T[F] };

/** The fields the columns `C` of a row hold. */
export type FieldsOf<Row, C extends keyof Row & string> = { [K in C as CamelCase<K>]: Row[K] };

/**
 * The named columns of `row` as fields, read as they are. Only those are copied: a `select *`
 * never carries into a domain object a column its type leaves out (a secret, a payload).
 */
export function fieldsOf<Row, C extends keyof Row & string>(
  row: Row,
  columns: readonly C[],
): FieldsOf<Row, C> {
  const fields: Record<string, unknown> = {};
  for (const column of columns) {
    fields[column.replace(/_(.)/g, (_, c: string) => c.toUpperCase())] = row[column];
  }
  return fields as FieldsOf<Row, C>;
}

/** Every column of `row` as a field: for a query whose columns are all the domain type's. */
export function allFieldsOf<Row extends object>(row: Row): FieldsOf<Row, keyof Row & string> {
  return fieldsOf(row, Object.keys(row) as (keyof Row & string)[]);
}
