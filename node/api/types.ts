// The control API's requests and responses, declared once: the server (../api-server.ts) returns them, the
// client (client.ts) and through it the CLI and the testnet read them. JSON on the wire: amounts, epochs
// and chain ids are decimal strings; ids and addresses lowercase 0x hex.
//
//   GET    /health                          { ok: true }, no token
//   GET    /status                          NodeStatus
//   GET    /peers                           PeerView[]
//   GET    /peers/:id                       PeerDetail (pings the peer)
//   GET    /markets                         MarketStatus[]: the markets this node serves
//   POST   /markets                         JoinMarketRequest → 201 MarketStatus (joins at run time)
//   GET    /markets/:id                     MarketStatus
//   DELETE /markets/:id                     LeaveMarketResponse (leaves at run time)
//   GET    /markets/:id/orders?epoch=N      OrderView[] of an epoch (default: the current one)
//   GET    /markets/:id/order-status?epoch=N&last=K&trader=0x…
//                                           OrderStatusView[]: the orders of epoch N (or of the last K
//                                           epochs, default 10), of one trader if given, with their fate
//   GET    /markets/:id/coverage?side=S&quantity=Q&price=P[&epoch=E]
//                                           CoverageCheck: whether the node's wallet's escrow covers an
//                                           order it is about to sign (before sending it)
//   GET    /markets/:id/fills?last=N        FillRow[]: the node's wallet's fills, newest first
//   POST   /markets/:id/orders              OrderRequest (the node signs) or OrderJson with a signature
//                                           (a device signed) → 201 SubmitOrderResponse; or a JSON
//                                           array of 1..256 signed orders (a gateway, a fleet) → 200
//                                           SubmitBatchResponse, each order with its own fate
//   GET    /markets/:id/epochs?last=N       EpochSummary[], newest first
//   GET    /markets/:id/epochs/:n           EpochDetail (?orders=false leaves out the order list)
//   GET    /metrics                         Prometheus text format
//
// Errors: { error: ApiErrorBody } with status 400 (bad input), 401 (token), 404 (unknown market, epoch,
// peer or route), 409 (an order the node already holds, or cannot accept now), 413 (body too large),
// 500 (a node fault).

import type { Hex } from "../../protocol/hex.ts";
import type { OrderJson, Side } from "../../protocol/order.ts";
import type { ClockStatus } from "../clock.ts";
import type { PeerClockStatus } from "../peer-clock.ts";
import type { EpochPhase, ExclusionCause, OrderSource } from "../store.ts";

export interface ApiErrorBody {
  /** A typed code: a protocol OrderErrorCode (ZERO_QUANTITY, ...) or an API code (UNKNOWN_MARKET, ...). */
  readonly code: string;
  readonly message: string;
}

export interface MarketEpochStatus {
  readonly current: string;
  readonly phase: EpochPhase;
  readonly orders: number;
  readonly endsInMs: number;
}

/** An ERC-20 token's display metadata, read once per market from the chain (decimals(), symbol()). */
export interface TokenMeta {
  readonly symbol: string;
  readonly decimals: number;
}

/** The market's two tokens' display metadata; null where the token has no decimals()/symbol(). */
export interface MarketTokens {
  readonly base: TokenMeta | null;
  readonly quote: TokenMeta | null;
}

/** One market as the node serves it: its parameters and where it is now. */
export interface MarketStatus {
  readonly id: Hex;
  readonly base: Hex;
  readonly quote: Hex;
  readonly genesisTimeS: string;
  readonly epochLengthS: string;
  readonly feeBps: string;
  /** The smallest order the market accepts, base units (orders below it are refused: BELOW_MIN_QUANTITY). */
  readonly minQuantity: string;
  readonly topics: { readonly orders: string; readonly announce: string };
  readonly epoch: MarketEpochStatus;
  readonly lastSettledEpoch: string | null;
  /** Connected peers that serve this market too. */
  readonly peers: number;
  /** Display units of the market's tokens (absent or null parts: show raw units). */
  readonly tokens?: MarketTokens;
}

export interface NodeStatus {
  readonly version: string;
  readonly peerId: string;
  readonly addresses: readonly string[];
  readonly wallet: Hex;
  readonly chainId: string;
  readonly contract: Hex;
  readonly markets: readonly MarketStatus[];
  readonly peers: number;
  readonly uptimeS: number;
  readonly gossipQueue: number;
  /** The node's clock against the chain's time (null when the node runs on an injected clock). */
  readonly clock: ClockStatus | null;
  /** The node's clock against its connected peers', from the arrival of their epoch-close announcements. */
  readonly peerClock?: PeerClockStatus;
}

export interface PeerView {
  readonly peerId: string;
  readonly addresses: readonly string[];
  readonly direction: string | null;
  readonly latencyMs: number | null;
  readonly protocols: readonly string[];
  readonly gossipScore: number;
  /** The topics it is subscribed to among ours, by kind and market: "orders:0x12ab…", "announce:0x12ab…". */
  readonly topics: readonly string[];
}

export interface PeerDetail extends PeerView {
  readonly pingMs: number | null;
}

export interface JoinMarketRequest {
  readonly market: Hex;
}

export interface LeaveMarketResponse {
  readonly market: Hex;
  readonly left: true;
}

/** An order for the node to sign with its wallet: amounts as decimal strings. */
export interface OrderRequest {
  readonly side: Side;
  /** Base units, a whole number > 0. */
  readonly quantity: string;
  /** Quote units per base unit, a whole number > 0. */
  readonly price: string;
  /** Default: the current epoch. */
  readonly epoch?: string;
}

export interface SubmitOrderResponse {
  readonly id: Hex;
  /** Peers the order was first sent to (0 is fine: reconciliation spreads it at close). */
  readonly recipients: number;
  readonly order: OrderJson & { readonly id: Hex };
}

/** POST /markets/:id/orders with a JSON array of signed orders: each order's fate, in request order. */
export interface SubmitBatchResponse {
  readonly accepted: number;
  readonly refused: number;
  readonly results: readonly (
    | { readonly status: "accepted"; readonly id: Hex; readonly recipients: number }
    | { readonly status: "refused"; readonly id: Hex | null; readonly code: string; readonly detail: string }
  )[];
}

export interface OrderView extends OrderJson {
  readonly id: Hex;
  readonly source: OrderSource;
  readonly receivedMs: number;
}

/** The epoch's result on chain: standing (challengeable) until the close of the next epoch, then final. */
export interface SettlementView {
  /** The transaction that made this result stand (a proposal, or the last challenge). */
  readonly tx: Hex;
  readonly submitter: Hex | null;
  readonly resultHash: Hex | null;
  readonly batchHash: Hex | null;
  readonly price: string | null;
  readonly volume: string | null;
  readonly feeTotal: string | null;
  readonly gasUsed: string | null;
  /** Whether the deadline has passed: the result can no longer be challenged. */
  readonly final: boolean;
  /** How many challenges replaced a standing result of the epoch. */
  readonly challenges: number;
  /** This node proposed a result of the epoch / replaced one by a challenge. */
  readonly bySelf: boolean;
  readonly challengedBySelf: boolean;
  /** The finalize() transaction that paid the fee and returned the bond, once sent. */
  readonly finalizeTx: Hex | null;
}

export interface EpochSummary {
  readonly market: Hex;
  readonly epoch: string;
  readonly phase: EpochPhase;
  readonly orders: number | null;
  readonly covered: number | null;
  readonly fingerprint: Hex | null;
  readonly resultHash: Hex | null;
  readonly price: string | null;
  readonly volume: string | null;
  readonly welfare: string | null;
  readonly settlement: SettlementView | null;
  /** Whether this node's result equals the settled (or, without a trade, the announced) one. */
  readonly agreed: boolean | null;
  /** Why the epoch ended without a settlement, when it did. */
  readonly reason: string | null;
  /** Orders this node learned from standing batches on chain (it had missed them). */
  readonly adopted: number;
}

export interface FillView {
  readonly id: Hex;
  readonly quantity: string;
}

/** The clearing result recorded for an epoch: this node's, or the chain's where they differ. */
export interface EpochResultView {
  readonly source: "local" | "chain";
  readonly price: string | null;
  readonly volume: string;
  readonly resultHash: Hex;
  readonly fills: readonly FillView[];
  readonly welfare?: string;
  readonly buyerSurplus?: string;
  readonly sellerSurplus?: string;
  /** With source "chain": this node's own result, which the chain's replaced. */
  readonly ours?: EpochResultView | null;
}

/** An order the coverage rule left out of clearing: its escrow did not cover it. */
export interface ExclusionView {
  readonly id: Hex;
  readonly trader: Hex;
  readonly side: Side;
  /** The asset it spends: QUOTE for a buy (quantity × limitPrice), BASE for a sell (quantity). */
  readonly asset: "BASE" | "QUOTE";
  readonly needed: string;
  /** The most one order of the trader may need of that asset: ⌊collateral / MAX_ORDERS_PER_TRADER_SIDE⌋. */
  readonly available: string;
  /** Why it was left out: "collateral", "trader-cap" or "side-cap". */
  readonly cause: "collateral" | "trader-cap" | "side-cap";
  /**
   * In words: "not covered: needed X QUOTE, one order may need at most Y …" (raw units), "over the trader
   * cap: …", "outranked: …".
   */
  readonly reason: string;
}

/**
 * What became of an order: "pending" (its epoch has not been cleared yet), "excluded" (coverage left it
 * out: `reason`), "kept" (it entered clearing and did not fill), "filled" (`filled` > 0).
 */
export type OrderFate = "pending" | "kept" | "excluded" | "filled";

export interface OrderStatusView extends OrderView {
  readonly status: OrderFate;
  /** Base units filled ("0" unless filled). */
  readonly filled: string;
  /** Why it was excluded (status "excluded"), else null. */
  readonly reason: string | null;
  /** With status "excluded": what it needed and what was left, in raw units of `asset`. */
  readonly exclusion: Pick<ExclusionView, "asset" | "needed" | "available" | "cause" | "reason"> | null;
  /** Whether the epoch's result is final on chain (or the epoch closed without trade). */
  readonly final: boolean;
}

/** One fill of the node's wallet: what it bought or sold, at which price, and how final that is. */
export interface FillRow {
  readonly market: Hex;
  readonly epoch: string;
  readonly id: Hex;
  readonly side: Side;
  /** Base units bought or sold. */
  readonly quantity: string;
  /** The order's limit price and the epoch's clearing price (quote units per base unit). */
  readonly limitPrice: string;
  readonly price: string;
  /** Quote units paid (buy) or received (sell) before fees: quantity × price. */
  readonly amount: string;
  /** "final", "standing" (on chain, can still be challenged) or "not settled" (no result on chain). */
  readonly settlement: "final" | "standing" | "not settled";
  readonly final: boolean;
  /** The transaction that made the epoch's result stand, when there is one. */
  readonly tx: Hex | null;
}

/** Whether the node's wallet's escrow covers an order before it is signed (the coverage rule). */
export interface CoverageCheck {
  readonly market: Hex;
  readonly epoch: string;
  readonly trader: Hex;
  readonly side: Side;
  readonly asset: "BASE" | "QUOTE";
  /** What this order needs: quantity × price QUOTE for a buy, quantity BASE for a sell. */
  readonly needed: string;
  /** The collateral counted: collateralOf(epoch) once the epoch closed, else the free balance now. */
  readonly collateral: string;
  /** The most one order may need of it: ⌊collateral / MAX_ORDERS_PER_TRADER_SIDE⌋. */
  readonly perOrder: string;
  /** The wallet's other orders of this side in the epoch. */
  readonly otherOrders: number;
  /** The side already holds MAX_ORDERS_PER_TRADER_SIDE orders of the wallet: a new one is never kept. */
  readonly sideFull: boolean;
  /** What this order may need: `perOrder`, or 0 when the side is full. */
  readonly available: string;
  /**
   * The deposit that would cover it: MAX_ORDERS_PER_TRADER_SIDE × needed − collateral when positive,
   * else "0" (also "0" when the side is full: no deposit helps then).
   */
  readonly short: string;
  readonly covered: boolean;
  /** True before the epoch's close: the rule counts the balance at the close, not now. */
  readonly estimate: boolean;
  /** Where `collateral` comes from, in words. */
  readonly basis: string;
}

export interface AnnouncementView {
  readonly peer: string;
  readonly wallet: Hex | null;
  readonly fingerprint: Hex | null;
  readonly orderCount: number | null;
  readonly resultHash: Hex | null;
}

export interface EpochDetail extends EpochSummary {
  readonly result: EpochResultView | null;
  readonly timings: Readonly<Record<string, number>> | null;
  readonly announcements: readonly AnnouncementView[];
  /** Present unless ?orders=false. */
  readonly orderList?: readonly OrderView[];
  /**
   * The orders the coverage rule and the caps left out of clearing, with the reason; present unless
   * ?orders=false (at 10,000 orders an epoch nearly all are cut by the side cap: ~3 MB a view).
   */
  readonly excluded?: readonly ExclusionView[];
  /** How many orders were left out, by cause (always present: what a poller of the epoch needs). */
  readonly excludedCounts: Readonly<Record<ExclusionCause, number>>;
}
