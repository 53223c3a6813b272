// The one display-unit layer of the CLI, the testnet's live view and its report: amounts in a market's
// display units, read from the tokens' decimals() and symbol(), exactly (integer arithmetic and
// formatUnits only, never a float). A whole base token is the quantity unit ("kWh"), a whole quote token
// the money unit ("USD"), and prices read quote tokens per whole base token ("USD/kWh"). Without the
// metadata (or with `raw`) amounts stay in raw units, as integers, with the unit named ("base units").
import { formatUnits } from "../../protocol/amount.ts";
import type { MarketTokens, TokenMeta } from "./types.ts";

/** The decimals of a market's two tokens. */
export interface UnitDecimals {
  readonly baseDecimals: number;
  readonly quoteDecimals: number;
}

/** How a market's units read: labels from the tokens' symbols. */
export interface UnitLabels {
  /** What a whole base token is, in quantities: "kWh". */
  readonly baseLabel: string;
  /** What a whole quote token is: "USD". */
  readonly quoteLabel: string;
  /** Quote tokens per whole base token: "USD/kWh". */
  readonly priceLabel: string;
}

/** A market's display units from its two tokens' metadata. */
export function unitsOfTokens(base: TokenMeta, quote: TokenMeta): UnitDecimals & UnitLabels {
  return {
    baseDecimals: base.decimals,
    quoteDecimals: quote.decimals,
    baseLabel: base.symbol,
    quoteLabel: quote.symbol,
    priceLabel: `${quote.symbol}/${base.symbol}`,
  };
}

/** A quantity in base units as whole base tokens ("1.25" kWh, "420" readings). */
export function formatBase(baseUnits: bigint, market: Pick<UnitDecimals, "baseDecimals">): string {
  return formatUnits(baseUnits, market.baseDecimals);
}

/** A price in quote units per base unit as quote tokens per whole base token ("0.3" USD/kWh), exactly. */
export function formatPrice(price: bigint, market: UnitDecimals): string {
  return formatUnits(price * 10n ** BigInt(market.baseDecimals), market.quoteDecimals);
}

/** Quote units as quote tokens ("12.345678" USD). */
export function formatQuote(quoteUnits: bigint, market: Pick<UnitDecimals, "quoteDecimals">): string {
  return formatUnits(quoteUnits, market.quoteDecimals);
}

/** Fractional digits a price can have in quote tokens per whole base token. */
export function priceDecimals(market: UnitDecimals): number {
  return Math.max(0, market.quoteDecimals - market.baseDecimals);
}

/**
 * Pads the fractional part of a formatUnits string with zeros to `places` digits ("2.07" → "2.070"), so
 * that columns of amounts line up. Only appends zeros: the value shown stays exact.
 */
export function padFraction(text: string, places: number): string {
  if (places <= 0) return text;
  const dot = text.indexOf(".");
  const frac = dot < 0 ? "" : text.slice(dot + 1);
  if (frac.length >= places) return text;
  return `${dot < 0 ? text : text.slice(0, dot)}.${frac.padEnd(places, "0")}`;
}

/** A price as a column cell: padded to the market's price decimals. */
export function priceCell(price: bigint, market: UnitDecimals): string {
  return padFraction(formatPrice(price, market), priceDecimals(market));
}

/** A quantity as a column cell: padded to the base token's decimals. */
export function baseCell(baseUnits: bigint, market: Pick<UnitDecimals, "baseDecimals">): string {
  return padFraction(formatBase(baseUnits, market), market.baseDecimals);
}

/** A quote amount as a column cell: padded to the quote token's decimals. */
export function quoteCell(quoteUnits: bigint, market: Pick<UnitDecimals, "quoteDecimals">): string {
  return padFraction(formatQuote(quoteUnits, market), market.quoteDecimals);
}

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
  const units = unitsOfTokens(b, q);
  return {
    base: (u) => `${formatBase(big(u), units)} ${units.baseLabel}`,
    quote: (u) => `${formatQuote(big(u), units)} ${units.quoteLabel}`,
    price: (u) => `${formatPrice(big(u), units)} ${units.priceLabel}`,
    display: true,
    baseUnit: units.baseLabel,
    quoteUnit: units.quoteLabel,
    priceUnit: units.priceLabel,
  };
}
