// Amounts in a market's display units (the tokens' decimals() and symbol(), MarketTokens), exactly:
// integer arithmetic and formatUnits only, never a float. Without the metadata (or with `raw`) amounts
// stay in raw units, as integers, with the unit named (“base units”, “quote units”).
import { formatUnits } from "../../protocol/amount.ts";
import type { MarketTokens, TokenMeta } from "./types.ts";

export interface AmountFormat {
  /** Base units (a quantity) → "1.5 kWh" or "1500". */
  base(units: bigint | string): string;
  /** Quote units (an amount paid) → "0.315 USD" or "315000". */
  quote(units: bigint | string): string;
  /** Quote units per base unit (a price) → "0.21 USD/kWh" or "210". */
  price(units: bigint | string): string;
  /** Whether amounts are shown in display units (both tokens known). */
  readonly display: boolean;
  /** The unit names for help and headings: "kWh" / "base units". */
  readonly baseUnit: string;
  readonly quoteUnit: string;
  readonly priceUnit: string;
}

const big = (v: bigint | string) => (typeof v === "bigint" ? v : BigInt(v));

function withUnit(units: bigint, meta: TokenMeta): string {
  return `${formatUnits(units, meta.decimals)} ${meta.symbol}`;
}

/** How to show a market's amounts: display units when both tokens' metadata is known and not `raw`. */
export function amountFormat(tokens: MarketTokens | undefined, raw = false): AmountFormat {
  const b = raw ? null : (tokens?.base ?? null);
  const q = raw ? null : (tokens?.quote ?? null);
  if (b === null || q === null) {
    return {
      base: (u) => big(u).toString(),
      quote: (u) => big(u).toString(),
      price: (u) => big(u).toString(),
      display: false,
      baseUnit: "base units",
      quoteUnit: "quote units",
      priceUnit: "quote units per base unit",
    };
  }
  const priceUnit = `${q.symbol}/${b.symbol}`;
  return {
    base: (u) => withUnit(big(u), b),
    quote: (u) => withUnit(big(u), q),
    // quote units per base unit → quote tokens per whole base token: × 10^baseDecimals, exactly.
    price: (u) => `${formatUnits(big(u) * 10n ** BigInt(b.decimals), q.decimals)} ${priceUnit}`,
    display: true,
    baseUnit: b.symbol,
    quoteUnit: q.symbol,
    priceUnit,
  };
}
