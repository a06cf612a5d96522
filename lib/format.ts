/**
 * How the product writes numbers, money and times for people: one module, `Intl` underneath,
 * times in the configured zone (TZ_METRICS, the zone days are counted in) and labelled with it,
 * counts with thousands separators. Used by the pages on the server and by the islands in the
 * browser alike (nothing here reads the environment), so both print the same text.
 *
 * @example
 * const f = createFormat("Africa/Harare");
 * f.count(20000);            // "20,000"
 * f.money("USD", "1.5");     // "USD 1.50"
 * f.dateTime(new Date());    // "07 Dec, 2026, 06:33 CAT"
 * f.zoneLabel;               // "Central Africa Time (GMT+02:00)"
 */

/** English as written in Zimbabwe: day before month, "CAT" for the zone. */
export const LOCALE = "en-ZW";

export interface Format {
  /** The IANA zone times are shown in. */
  timeZone: string;
  /** The zone in words with its offset, for a page's "times are in …" note. */
  zoneLabel: string;
  /** A whole count (tokens, messages) with thousands separators. */
  count(n: number | bigint | string): string;
  /** An amount of money in a currency, with its two decimals. */
  money(currency: string, amount: number | string): string;
  /** Date and time of day, with the zone's short name. */
  dateTime(d: Date | string): string;
  /** The date alone (in the zone). */
  date(d: Date | string): string;
  /** The time of day with the zone's short name. */
  time(d: Date | string): string;
}

const counts = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });

/** A whole count with thousands separators, where no time zone is at hand (an island). */
export const formatCount = (n: number | bigint | string): string =>
  counts.format(typeof n === "string" ? Number(n) : n);

const amounts = new Intl.NumberFormat(LOCALE, {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});

/** An amount of money with its two decimals, where no time zone is at hand (an island). */
export const formatMoney = (currency: string, amount: number | string): string =>
  `${currency} ${amounts.format(Number(amount))}`;

const cache = new Map<string, Format>();

/** The formatter for `timeZone` (made once per zone: `Intl` objects are costly to build). */
export function createFormat(timeZone: string): Format {
  const known = cache.get(timeZone);
  if (known) return known;
  const dateTimes = new Intl.DateTimeFormat(LOCALE, {
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZone,
    timeZoneName: "short",
  });
  const dates = new Intl.DateTimeFormat(LOCALE, {
    day: "numeric",
    month: "short",
    year: "numeric",
    timeZone,
  });
  const times = new Intl.DateTimeFormat(LOCALE, {
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZone,
    timeZoneName: "short",
  });
  const zonePart = (style: "long" | "longOffset") =>
    new Intl.DateTimeFormat(LOCALE, { timeZone, timeZoneName: style })
      .formatToParts(new Date()).find((p) => p.type === "timeZoneName")?.value ?? timeZone;
  const asDate = (d: Date | string) => (typeof d === "string" ? new Date(d) : d);
  const format: Format = {
    timeZone,
    zoneLabel: `${zonePart("long")} (${zonePart("longOffset")})`,
    count: formatCount,
    money: formatMoney,
    dateTime: (d) => dateTimes.format(asDate(d)),
    date: (d) => dates.format(asDate(d)),
    time: (d) => times.format(asDate(d)),
  };
  cache.set(timeZone, format);
  return format;
}
