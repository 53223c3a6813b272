// report.json: the TestnetReport with bigints as decimal strings, and its parser (decimal strings back to
// bigint where the type says bigint; a report of the single-market testnet reads as one energy market).
import type { Hex } from "../protocol/hex.ts";
import { ENERGY_UNITS } from "./devices.ts";
import { parseDeviceOrder, parseDeviceReport } from "./report-devices.ts";
import type {
  AdversaryBalance,
  AdversaryMode,
  AdversaryReport,
  EpochAttack,
  EpochReport,
  MarketInfo,
  MarketReport,
  NodeEpochView,
  TestnetReport,
} from "./types.ts";

// ---------------------------------------------------------------------------------------------------
// JSON

/** The report as JSON: bigints as decimal strings, everything else as is. */
export function reportToJson(report: TestnetReport): string {
  return `${JSON.stringify(report, (_key, value) => (typeof value === "bigint" ? value.toString() : value), 2)}\n`;
}

/**
 * Parses report.json back into a TestnetReport (decimal strings → bigint where the type says bigint).
 * A report of the single-market testnet before markets were listed (top-level `market` and `epochs`)
 * reads as one energy market.
 */
export function parseReportJson(text: string): TestnetReport {
  const raw = JSON.parse(text) as Record<string, unknown>;
  const markets =
    raw.markets === undefined && raw.market !== undefined
      ? [
          parseMarket(
            { market: { ...ENERGY_UNITS, ...obj(raw.market, "market") }, name: "energy", epochs: raw.epochs },
            0,
          ),
        ]
      : arr(raw.markets, "markets").map(parseMarket);
  return {
    nodes: raw.nodes as number,
    scenario: raw.scenario as string,
    seed: raw.seed as string,
    chainId: big(raw.chainId, "chainId"),
    contract: raw.contract as Hex,
    startedAtMs: raw.startedAtMs as number,
    firstSettlementS: (raw.firstSettlementS ?? null) as number | null,
    markets,
    ...(raw.adversary === undefined || raw.adversary === null
      ? {}
      : { adversary: parseAdversary(obj(raw.adversary, "adversary")) }),
  };
}

function parseBalance(v: unknown, where: string): AdversaryBalance {
  const b = obj(v, where);
  return {
    eth: big(b.eth, `${where}.eth`),
    bonds: big(b.bonds, `${where}.bonds`),
    base: big(b.base, `${where}.base`),
    quote: big(b.quote, `${where}.quote`),
  };
}

function parseAdversary(a: Record<string, unknown>): AdversaryReport {
  return {
    mode: a.mode as AdversaryMode,
    addresses: arr(a.addresses, "adversary.addresses") as Hex[],
    start: parseBalance(a.start, "adversary.start"),
    end: a.end === null || a.end === undefined ? null : parseBalance(a.end, "adversary.end"),
    feesEarned: big(a.feesEarned, "adversary.feesEarned"),
  };
}

function parseAttack(v: unknown, where: string): EpochAttack {
  const a = obj(v, where);
  return { ...(a as unknown as EpochAttack), bondPaidWei: big(a.bondPaidWei, `${where}.bondPaidWei`) };
}

function parseMarket(v: unknown, k: number): MarketReport {
  const where = `markets[${k}]`;
  const mr = obj(v, where);
  const m = obj(mr.market, `${where}.market`);
  const market: MarketInfo = {
    id: m.id as Hex,
    genesisTimeS: big(m.genesisTimeS, `${where}.market.genesisTimeS`),
    epochLengthS: big(m.epochLengthS, `${where}.market.epochLengthS`),
    baseDecimals: m.baseDecimals as number,
    quoteDecimals: m.quoteDecimals as number,
    baseLabel: m.baseLabel as string,
    quoteLabel: m.quoteLabel as string,
    priceLabel: m.priceLabel as string,
  };
  const epochs = arr(mr.epochs, `${where}.epochs`).map((e, i) => parseEpoch(e, `${where}.epochs[${i}]`));
  return {
    market,
    name: mr.name as string,
    epochs,
    ...(mr.firstSettlementS === undefined ? {} : { firstSettlementS: mr.firstSettlementS as number | null }),
    ...(Array.isArray(mr.devices)
      ? { devices: mr.devices.map((d, k) => parseDeviceReport(d, `${where}.devices[${k}]`)) }
      : {}),
  };
}

function parseEpoch(e: unknown, where: string): EpochReport {
  const r = obj(e, where);
  const curve = (v: unknown, what: string) =>
    arr(v, what).map((p, k) => {
      const o = obj(p, `${what}[${k}]`);
      return {
        limitPrice: big(o.limitPrice, `${what}[${k}].limitPrice`),
        quantity: big(o.quantity, `${what}[${k}].quantity`),
      };
    });
  return {
    epoch: big(r.epoch, `${where}.epoch`),
    orders: r.orders as number,
    price: r.price === null ? null : big(r.price, `${where}.price`),
    volume: big(r.volume, `${where}.volume`),
    welfare: big(r.welfare, `${where}.welfare`),
    nodes: arr(r.nodes, `${where}.nodes`) as NodeEpochView[],
    agreed: r.agreed as boolean,
    settled: r.settled as boolean,
    settlementTx: (r.settlementTx ?? null) as Hex | null,
    settledBy: (r.settledBy ?? null) as number | null,
    gasUsed: r.gasUsed === null || r.gasUsed === undefined ? null : big(r.gasUsed, `${where}.gasUsed`),
    bids: curve(r.bids, `${where}.bids`),
    asks: curve(r.asks, `${where}.asks`),
    ...(r.attack === undefined || r.attack === null
      ? {}
      : { attack: parseAttack(r.attack, `${where}.attack`) }),
    ...(r.unfinished === true ? { unfinished: true } : {}),
    ...(typeof r.ordersSent === "number" ? { ordersSent: r.ordersSent } : {}),
    ...(Array.isArray(r.deviceOrders)
      ? { deviceOrders: r.deviceOrders.map((o, k) => parseDeviceOrder(o, `${where}.deviceOrders[${k}]`)) }
      : {}),
    ...(typeof r.challenges === "number" ? { challenges: r.challenges } : {}),
    ...(r.submitter === undefined ? {} : { submitter: (r.submitter ?? null) as Hex | null }),
  };
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new Error(`report: ${what} is not an object`);
  return v as Record<string, unknown>;
}

function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw new Error(`report: ${what} is not an array`);
  return v;
}

function big(v: unknown, what: string): bigint {
  if (typeof v !== "string" || !/^-?(0|[1-9][0-9]*)$/.test(v)) {
    throw new Error(`report: ${what} is not a decimal string: ${JSON.stringify(v)}`);
  }
  return BigInt(v);
}
