// Decimal amounts as strings <-> bigint base units, never through a float.
import { AmountError } from "./errors.ts";

const UINT_RE = /^(0|[1-9][0-9]*)$/;
const DECIMAL_RE = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;

/** Parses a non-negative decimal integer in canonical form ("0", "17"; no sign, no leading zeros). */
export function parseUint(text: string, what = "amount"): bigint {
  if (typeof text !== "string") throw new AmountError(`${what} must be a decimal string`);
  if (!UINT_RE.test(text)) {
    if (/^-/.test(text)) throw new AmountError(`${what} must not be negative: "${text}"`);
    if (/^[0-9]*\.[0-9]+$/.test(text)) throw new AmountError(`${what} must be a whole number: "${text}"`);
    throw new AmountError(`${what} is not a decimal integer: "${text}"`);
  }
  return BigInt(text);
}

/**
 * Parses a decimal string with at most `decimals` fractional digits into base units
 * ("1.5" with 3 decimals -> 1500n). More fractional digits than `decimals` is an error, not a rounding.
 */
export function parseUnits(text: string, decimals: number, what = "amount"): bigint {
  if (!Number.isInteger(decimals) || decimals < 0) throw new AmountError(`bad decimals: ${decimals}`);
  if (typeof text !== "string" || !DECIMAL_RE.test(text)) {
    if (typeof text === "string" && /^-/.test(text)) {
      throw new AmountError(`${what} must not be negative: "${text}"`);
    }
    throw new AmountError(`${what} is not a decimal number: "${String(text)}"`);
  }
  const [whole = "0", frac = ""] = text.split(".");
  if (frac.length > decimals) {
    throw new AmountError(`${what} has more than ${decimals} decimal places: "${text}"`);
  }
  return BigInt(whole) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, "0") || "0");
}

/** Formats base units as a decimal string with `decimals` places, trailing zeros trimmed. */
export function formatUnits(value: bigint, decimals: number): string {
  const negative = value < 0n;
  const abs = negative ? -value : value;
  if (decimals === 0) return (negative ? "-" : "") + abs.toString();
  const base = 10n ** BigInt(decimals);
  const whole = abs / base; // rounds toward zero: exact, remainder kept below
  const frac = (abs % base).toString().padStart(decimals, "0").replace(/0+$/, "");
  return (negative ? "-" : "") + whole.toString() + (frac ? `.${frac}` : "");
}
