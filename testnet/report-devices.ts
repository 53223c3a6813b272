// Who traded: each device's orders of an epoch and what became of each (filled, rationed at the price,
// not crossing it, not covered by the device's escrow), and each device over the run: energy bought and
// sold, the average price it paid or got against its own limit, and the orders that did not fill, by
// reason. The market driver records the per-epoch outcomes; the report (report.json, report.html) shows
// the per-device totals. Integer arithmetic only.

import { formatBase, formatPrice, formatQuote } from "../node/api/units.ts";
import type { Hex } from "../protocol/hex.ts";
import type { Side } from "../protocol/order.ts";
import { escapeHtml as esc } from "./html.ts";
import type {
  DeviceOrderOutcome,
  DeviceReport,
  DeviceSpec,
  EpochReport,
  MarketReport,
  OrderFateReason,
} from "./types.ts";

/** The reasons an order did not fill completely, in the order the report lists them. */
export const UNFILLED_REASONS: readonly OrderFateReason[] = [
  "not crossing",
  "rationed",
  "not covered",
  "over trader cap",
  "outranked",
  "not accepted",
  "unfinished",
];

/** One order as the driver saw it: what the device asked for and whether its node took it. */
export interface PlacedOrder {
  readonly device: string;
  readonly id: Hex;
  readonly side: Side;
  readonly quantity: bigint;
  readonly limitPrice: bigint;
  readonly accepted: boolean;
}

/**
 * What became of one order, given the epoch's clearing price (null: nothing traded), its fill, and the
 * coverage rule's exclusion of it (the node's reason), if any.
 */
export function orderFate(
  o: Pick<PlacedOrder, "side" | "quantity" | "limitPrice" | "accepted">,
  price: bigint | null,
  filled: bigint,
  excluded: string | undefined,
  unfinished: boolean,
): OrderFateReason {
  if (!o.accepted) return "not accepted";
  // No final result yet: a fill a node computed could still be changed by a challenge.
  if (unfinished) return "unfinished";
  if (filled >= o.quantity) return "filled";
  // The node's words say which rule left it out (node/market/views.ts, exclusionView).
  if (excluded !== undefined)
    return excluded.startsWith("outranked")
      ? "outranked"
      : excluded.startsWith("over the trader cap")
        ? "over trader cap"
        : "not covered";
  if (filled > 0n) return "rationed";
  if (price === null) return "not crossing";
  // Unfilled at the price: a limit that crosses it strictly would have filled, so only the marginal
  // level (limit = price) can be rationed to nothing.
  return o.limitPrice === price ? "rationed" : "not crossing";
}

/** The epoch's device orders with their fates. */
export function deviceOrderOutcomes(
  placed: readonly PlacedOrder[],
  epoch: {
    readonly price: bigint | null;
    readonly fills: ReadonlyMap<string, bigint>;
    readonly excluded: ReadonlyMap<string, string>;
    readonly unfinished: boolean;
  },
): DeviceOrderOutcome[] {
  return placed.map((o) => {
    const filled = epoch.fills.get(o.id.toLowerCase()) ?? 0n;
    const detail = epoch.excluded.get(o.id.toLowerCase());
    const fate = orderFate(o, epoch.price, filled, detail, epoch.unfinished);
    return {
      device: o.device,
      id: o.id,
      side: o.side,
      quantity: o.quantity,
      limitPrice: o.limitPrice,
      filled,
      fate,
      ...(detail !== undefined &&
      (fate === "not covered" || fate === "over trader cap" || fate === "outranked")
        ? { detail }
        : {}),
    };
  });
}

/** Each device over the rows (in the order of `devices`), from the rows' device orders. */
export function deviceReports(
  rows: readonly EpochReport[],
  devices: readonly Pick<DeviceSpec, "name" | "kind" | "address">[],
): DeviceReport[] {
  type Acc = {
    bought: bigint;
    sold: bigint;
    paid: bigint;
    received: bigint;
    buyLimitValue: bigint;
    sellLimitValue: bigint;
    orders: number;
    unfilled: Partial<Record<OrderFateReason, number>>;
  };
  const acc = new Map<string, Acc>();
  const get = (name: string): Acc => {
    let a = acc.get(name);
    if (!a) {
      a = {
        bought: 0n,
        sold: 0n,
        paid: 0n,
        received: 0n,
        buyLimitValue: 0n,
        sellLimitValue: 0n,
        orders: 0,
        unfilled: {},
      };
      acc.set(name, a);
    }
    return a;
  };
  for (const r of rows) {
    for (const o of r.deviceOrders ?? []) {
      const a = get(o.device);
      a.orders++;
      if (o.fate !== "filled") a.unfilled[o.fate] = (a.unfilled[o.fate] ?? 0) + 1;
      // Only final results count: an unfinished epoch's fills are not the device's yet.
      if (o.filled === 0n || r.price === null || r.unfinished === true || o.fate === "unfinished") continue;
      if (o.side === "buy") {
        a.bought += o.filled;
        a.paid += o.filled * r.price;
        a.buyLimitValue += o.filled * o.limitPrice;
      } else {
        a.sold += o.filled;
        a.received += o.filled * r.price;
        a.sellLimitValue += o.filled * o.limitPrice;
      }
    }
  }
  return devices.map((d) => {
    const a = get(d.name);
    return { device: d.name, kind: d.kind, address: d.address, ...a, unfilled: { ...a.unfilled } };
  });
}

/** "3 not crossing, 1 rationed" or "–". */
export function describeUnfilled(u: DeviceReport["unfilled"]): string {
  const parts = UNFILLED_REASONS.filter((r) => (u[r] ?? 0) > 0).map((r) => `${u[r]} ${r}`);
  return parts.length > 0 ? parts.join(", ") : "–";
}

/** Average price and average limit of one side, in the market's price unit: "0.21 (limit 0.30)". */
function averages(
  quantity: bigint,
  value: bigint,
  limitValue: bigint,
  m: MarketReport["market"],
): { price: string; limit: string } {
  if (quantity === 0n) return { price: "–", limit: "–" };
  // Rounded down; exact when the fills are at one price.
  return { price: formatPrice(value / quantity, m), limit: formatPrice(limitValue / quantity, m) };
}

/** The report.html section "who traded": one row per device of the market. */
export function renderDevicesHtml(mr: MarketReport, id: string): string {
  const m = mr.market;
  const devices = mr.devices ?? [];
  const title = "<h3>Who traded</h3>";
  if (devices.length === 0)
    return `<section class="devices" id="devices-${esc(id)}">${title}<p class="note">No device data in this report.</p></section>`;
  const head = [
    ["device", "l"],
    ["kind", "l"],
    [`bought (${m.baseLabel})`, ""],
    [`avg price paid (${m.priceLabel})`, ""],
    ["avg buy limit", ""],
    [`sold (${m.baseLabel})`, ""],
    [`avg price got (${m.priceLabel})`, ""],
    ["avg sell limit", ""],
    [`paid / received (${m.quoteLabel})`, ""],
    ["orders", ""],
    ["not filled, why", "l"],
  ]
    .map(([h, c]) => `<th${c ? ` class="${c}"` : ""}>${esc(h ?? "")}</th>`)
    .join("");
  const body = devices.map((d) => {
    const buy = averages(d.bought, d.paid, d.buyLimitValue, m);
    const sell = averages(d.sold, d.received, d.sellLimitValue, m);
    const cells = [
      `<td class="l"><span title="${esc(d.address)}">${esc(d.device)}</span></td>`,
      `<td class="l">${esc(d.kind)}</td>`,
      `<td>${d.bought === 0n ? "–" : esc(formatBase(d.bought, m))}</td>`,
      `<td>${esc(buy.price)}</td>`,
      `<td>${esc(buy.limit)}</td>`,
      `<td>${d.sold === 0n ? "–" : esc(formatBase(d.sold, m))}</td>`,
      `<td>${esc(sell.price)}</td>`,
      `<td>${esc(sell.limit)}</td>`,
      `<td>${esc(`${formatQuote(d.paid, m)} / ${formatQuote(d.received, m)}`)}</td>`,
      `<td>${esc(String(d.orders))}</td>`,
      `<td class="l">${esc(describeUnfilled(d.unfilled))}</td>`,
    ];
    return `<tr data-device="${esc(d.device)}">${cells.join("")}</tr>`;
  });
  return [
    `<section class="devices" id="devices-${esc(id)}">${title}`,
    `<p class="note">Each device over the run: what it bought and sold, the average clearing price against its own average limit (a buyer's limit is the most it would pay, a seller's the least it would take), and its orders that did not fill completely: not crossing the price, rationed at the price, not covered by its escrow, over its wallet's cap of kept orders, outranked by the side cap, not accepted by its node, or unfinished when the run stopped.</p>`,
    `<table><thead><tr>${head}</tr></thead><tbody>${body.join("")}</tbody></table></section>`,
  ].join("");
}

// --- report.json ---------------------------------------------------------------------------------------

function big(v: unknown, what: string): bigint {
  if (typeof v !== "string" || !/^-?(0|[1-9][0-9]*)$/.test(v))
    throw new Error(`report: ${what} is not a decimal string: ${JSON.stringify(v)}`);
  return BigInt(v);
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new Error(`report: ${what} is not an object`);
  return v as Record<string, unknown>;
}

export function parseDeviceOrder(v: unknown, where: string): DeviceOrderOutcome {
  const o = obj(v, where);
  return {
    device: o.device as string,
    id: o.id as Hex,
    side: o.side as Side,
    quantity: big(o.quantity, `${where}.quantity`),
    limitPrice: big(o.limitPrice, `${where}.limitPrice`),
    filled: big(o.filled, `${where}.filled`),
    fate: o.fate as OrderFateReason,
    ...(typeof o.detail === "string" ? { detail: o.detail } : {}),
  };
}

export function parseDeviceReport(v: unknown, where: string): DeviceReport {
  const d = obj(v, where);
  return {
    device: d.device as string,
    kind: d.kind as string,
    address: d.address as Hex,
    bought: big(d.bought, `${where}.bought`),
    sold: big(d.sold, `${where}.sold`),
    paid: big(d.paid, `${where}.paid`),
    received: big(d.received, `${where}.received`),
    buyLimitValue: big(d.buyLimitValue, `${where}.buyLimitValue`),
    sellLimitValue: big(d.sellLimitValue, `${where}.sellLimitValue`),
    orders: d.orders as number,
    unfilled: obj(d.unfilled, `${where}.unfilled`) as DeviceReport["unfilled"],
  };
}
