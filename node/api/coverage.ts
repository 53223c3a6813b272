// The coverage check of an order the node's wallet is about to sign (GET /markets/:id/coverage): does
// the escrow, as the coverage rule counts it (clearing/coverage.ts), cover it? One order may need at most
// ⌊collateral / MAX_ORDERS_PER_TRADER_SIDE⌋ of the asset it spends (collateralOf(epoch), the free balance
// at the close), and only the MAX_ORDERS_PER_TRADER_SIDE orders of smallest id of a side count. The new
// order's id is not known before it is signed, so a side that already holds that many orders of the
// wallet leaves it nothing (the node refuses such an order anyway). Before the close the free balance now
// stands in for the balance at the close, and the answer says it is an estimate.
import { type Collateral, needOf, orderShareOf } from "../../clearing/coverage.ts";
import { MAX_ORDERS_PER_TRADER_SIDE } from "../../clearing/limits.ts";
import type { Hex } from "../../protocol/hex.ts";
import type { ChainPort } from "../chain/port.ts";
import type { NodeStore } from "../store.ts";
import type { ParsedOrderRequest } from "./order-request.ts";
import type { CoverageCheck } from "./types.ts";

export interface CoverageInputs {
  readonly market: Hex;
  readonly trader: Hex;
  /** The order's epoch (closed epochs read collateralOf; the current or a later one estimates). */
  readonly epoch: bigint;
  readonly current: bigint;
  readonly chain: Pick<ChainPort, "collateralOf" | "freeBalance">;
  readonly store: Pick<NodeStore, "ordersBetween">;
}

async function collateral(inp: CoverageInputs): Promise<{ c: Collateral; estimate: boolean; basis: string }> {
  const { chain, market, trader, epoch } = inp;
  if (epoch < inp.current) {
    return {
      c: await chain.collateralOf(market, trader, epoch),
      estimate: false,
      basis: `collateralOf(epoch ${epoch}): the free escrow at its close`,
    };
  }
  const basis = `estimate: the free escrow now; the rule counts the free escrow at the close of epoch ${epoch}`;
  if (chain.freeBalance) return { c: await chain.freeBalance(market, trader), estimate: true, basis };
  // A port without a free-balance read (a test double): its collateral table is the best estimate.
  return { c: await chain.collateralOf(market, trader, epoch), estimate: true, basis };
}

export async function checkCoverage(inp: CoverageInputs, req: ParsedOrderRequest): Promise<CoverageCheck> {
  const { c, estimate, basis } = await collateral(inp);
  const otherOrders = inp.store
    .ordersBetween(inp.market, inp.epoch, inp.epoch, inp.trader)
    .filter((s) => s.order.side === req.side).length;
  const isBuy = req.side === "buy";
  const total = isBuy ? c.quote : c.base;
  const perOrder = orderShareOf(total);
  const sideFull = BigInt(otherOrders) >= MAX_ORDERS_PER_TRADER_SIDE;
  const available = sideFull ? 0n : perOrder;
  const needed = needOf(req);
  // The deposit that would cover it: an escrow of MAX_ORDERS_PER_TRADER_SIDE × needed (none helps a full side).
  const wanted = MAX_ORDERS_PER_TRADER_SIDE * needed;
  const short = sideFull ? 0n : wanted > total ? wanted - total : 0n;
  return {
    market: inp.market,
    epoch: inp.epoch.toString(),
    trader: inp.trader,
    side: req.side,
    asset: isBuy ? "QUOTE" : "BASE",
    needed: needed.toString(),
    collateral: total.toString(),
    perOrder: perOrder.toString(),
    otherOrders,
    sideFull,
    available: available.toString(),
    short: short.toString(),
    covered: !sideFull && short === 0n,
    estimate,
    basis,
  };
}
