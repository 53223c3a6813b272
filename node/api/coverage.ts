// The coverage check of an order the node's wallet is about to sign (GET /markets/:id/coverage): does
// the escrow, as the coverage rule counts it (clearing/coverage.ts), cover it? The rule takes a trader's
// orders of the epoch in ascending id order against collateralOf(epoch), the free balance at the close.
// The new order's id is not known before it is signed, so the check counts the trader's other orders of
// the epoch first (the case where it comes last: what it can count on whatever its id). Before the close
// the free balance now stands in for the balance at the close, and the answer says it is an estimate.
import { applyCoverage, type Collateral } from "../../clearing/coverage.ts";
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
  const others = inp.store
    .ordersBetween(inp.market, inp.epoch, inp.epoch, inp.trader)
    .map((s) => ({ ...s.order, id: s.id }));
  const { covered } = applyCoverage(others, () => c);
  const isBuy = req.side === "buy";
  const spends = covered.filter((o) => o.side === req.side);
  const committed = spends.reduce((sum, o) => sum + (isBuy ? o.quantity * o.limitPrice : o.quantity), 0n);
  const total = isBuy ? c.quote : c.base;
  const available = total > committed ? total - committed : 0n;
  const needed = isBuy ? req.quantity * req.limitPrice : req.quantity;
  const short = needed > available ? needed - available : 0n;
  return {
    market: inp.market,
    epoch: inp.epoch.toString(),
    trader: inp.trader,
    side: req.side,
    asset: isBuy ? "QUOTE" : "BASE",
    needed: needed.toString(),
    collateral: total.toString(),
    committed: committed.toString(),
    otherOrders: spends.length,
    available: available.toString(),
    short: short.toString(),
    covered: short === 0n,
    estimate,
    basis,
  };
}
