// How the testnet shows amounts: base units, quote units and prices as exact decimal text in a market's
// own units (energy: kWh and $/kWh; data: readings and $/reading). Integer arithmetic and formatUnits
// only: no float ever touches an amount.
import { formatUnits } from "../protocol/amount.ts";
import type { MarketUnits } from "./types.ts";

/** A quantity in base units as whole base tokens ("1.25" kWh, "420" readings). */
export function formatBase(baseUnits: bigint, market: Pick<MarketUnits, "baseDecimals">): string {
  return formatUnits(baseUnits, market.baseDecimals);
}

/** A price in quote units per base unit as quote tokens per whole base token ("0.3" $/kWh), exactly. */
export function formatPrice(
  price: bigint,
  market: Pick<MarketUnits, "baseDecimals" | "quoteDecimals">,
): string {
  return formatUnits(price * 10n ** BigInt(market.baseDecimals), market.quoteDecimals);
}

/** Quote units as quote tokens ("12.345678" $). */
export function formatQuote(quoteUnits: bigint, market: Pick<MarketUnits, "quoteDecimals">): string {
  return formatUnits(quoteUnits, market.quoteDecimals);
}

/** Fractional digits a price can have in quote tokens per whole base token. */
export function priceDecimals(market: Pick<MarketUnits, "baseDecimals" | "quoteDecimals">): number {
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
export function priceCell(price: bigint, market: MarketUnits): string {
  return padFraction(formatPrice(price, market), priceDecimals(market));
}

/** A quantity as a column cell: padded to the base token's decimals. */
export function baseCell(baseUnits: bigint, market: MarketUnits): string {
  return padFraction(formatBase(baseUnits, market), market.baseDecimals);
}

/** A quote amount as a column cell: padded to the quote token's decimals. */
export function quoteCell(quoteUnits: bigint, market: MarketUnits): string {
  return padFraction(formatQuote(quoteUnits, market), market.quoteDecimals);
}
