/**
 * Token packages: bundles of tokens with a price per currency. A currency is offered only when
 * its Paynow integration is configured (USD: PAYNOW_INTEGRATION_*, ZiG: PAYNOW_ZIG_*).
 */
import type { Sql } from "../db/mod.ts";
import type { Currency } from "./vocabulary.ts";

export interface TokenPackage {
  id: string;
  name: string;
  tokens: number;
  prices: Partial<Record<Currency, string>>;
  active: boolean;
  position: number;
}

/** A row of `token_packages` (bigint and numeric as strings). */
export interface PackageRow {
  id: string;
  name: string;
  tokens: string;
  price_usd: string | null;
  price_zig: string | null;
  active: boolean;
  position: number;
}

function toPackage(row: PackageRow, currencies: Currency[]): TokenPackage {
  const prices: Partial<Record<Currency, string>> = {};
  if (currencies.includes("USD") && row.price_usd !== null) prices.USD = String(row.price_usd);
  if (currencies.includes("ZiG") && row.price_zig !== null) prices.ZiG = String(row.price_zig);
  return {
    id: row.id,
    name: row.name,
    tokens: Number(row.tokens),
    prices,
    active: row.active,
    position: row.position,
  };
}

/** What can be bought now: active packages with a price in an offered currency. */
export async function listBuyablePackages(
  sql: Sql,
  currencies: Currency[],
): Promise<TokenPackage[]> {
  const rows = await sql<
    PackageRow[]
  >`select * from token_packages where active order by position, tokens`;
  return rows.map((r) => toPackage(r, currencies)).filter((p) => Object.keys(p.prices).length > 0);
}

export async function getPackage(
  sql: Sql,
  id: string,
  currencies: Currency[],
): Promise<TokenPackage | null> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
  const [row] = await sql<PackageRow[]>`select * from token_packages where id = ${id}`;
  return row ? toPackage(row, currencies) : null;
}
