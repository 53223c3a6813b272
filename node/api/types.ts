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
//   POST   /markets/:id/orders              OrderRequest (the node signs) or OrderJson with a signature
//                                           (a device signed) → 201 SubmitOrderResponse
//   GET    /markets/:id/epochs?last=N       EpochSummary[], newest first
//   GET    /markets/:id/epochs/:n           EpochDetail (?orders=false leaves out the order list)
//   GET    /metrics                         Prometheus text format
//
// Errors: { error: ApiErrorBody } with status 400 (bad input), 401 (token), 404 (unknown market, epoch,
// peer or route), 409 (an order the node already holds, or cannot accept now), 413 (body too large),
// 500 (a node fault).
import type { Hex } from "../../protocol/hex.ts";
import type { OrderJson, Side } from "../../protocol/order.ts";
import type { EpochPhase, OrderSource } from "../store.ts";

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

/** One market as the node serves it: its parameters and where it is now. */
export interface MarketStatus {
  readonly id: Hex;
  readonly base: Hex;
  readonly quote: Hex;
  readonly genesisTimeS: string;
  readonly epochLengthS: string;
  readonly feeBps: string;
  readonly topics: { readonly orders: string; readonly announce: string };
  readonly epoch: MarketEpochStatus;
  readonly lastSettledEpoch: string | null;
  /** Connected peers that serve this market too. */
  readonly peers: number;
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
}
