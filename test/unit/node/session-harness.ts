// A harness for in-process tests of market sessions: real sessions, a real SQLite store per node on disk,
// real signatures and the real chain follower, over the in-memory network and the fake chain.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Registry } from "prom-client";
import type { Collateral } from "../../../clearing/coverage.ts";
import { ChainFollower } from "../../../node/chain/follower.ts";
import { createLogger, type Logger } from "../../../node/logger.ts";
import { makeMarketContext } from "../../../node/market/context.ts";
import { MarketSession } from "../../../node/market/session.ts";
import { NodeMetrics } from "../../../node/metrics.ts";
import type { PeerClock } from "../../../node/peer-clock.ts";
import type { EpochRecord } from "../../../node/store.ts";
import { NodeStore } from "../../../node/store.ts";
import { domainSeparator, makeDomain, orderDigestBytes, orderId } from "../../../protocol/eip712.ts";
import { epochStartMs } from "../../../protocol/epoch.ts";
import type { Hex } from "../../../protocol/hex.ts";
import type { MarketParams } from "../../../protocol/market.ts";
import { type Order, orderToJson, type Side, type SignedOrder } from "../../../protocol/order.ts";
import { addressOfPrivateKey, signDigest } from "../../../protocol/signature.ts";
import { selectBatch } from "../../../settlement/batch.ts";
import {
  FAKE_CHAIN_ID,
  FAKE_CONTRACT,
  FakeChain,
  type FakeChainPort,
  type PortFaults,
} from "./fake-chain.ts";
import { MemoryNetwork } from "./memory-network.ts";

export const DOMAIN = makeDomain(FAKE_CHAIN_ID, FAKE_CONTRACT);
export const SEPARATOR = domainSeparator(DOMAIN);

export function key(i: number): Hex {
  return `0x${(0x40 + i).toString(16).padStart(2, "0").repeat(32)}` as Hex;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

export async function waitFor(what: string, pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export interface TestNode {
  readonly name: string;
  readonly session: MarketSession;
  readonly port: FakeChainPort;
  readonly store: NodeStore;
  readonly follower: ChainFollower;
  readonly logs: string[];
  readonly peerId: string;
  record(epoch: bigint): EpochRecord | undefined;
  stop(): Promise<void>;
}

export class SessionWorld {
  readonly chain = new FakeChain();
  readonly net = new MemoryNetwork();
  readonly market: Hex;
  readonly params: MarketParams;
  private readonly dir = mkdtempSync(join(tmpdir(), "smartmarket-session-"));
  private readonly nodes: TestNode[] = [];
  private nonces = new Map<Hex, bigint>();

  /** A market whose epoch 0 starts 1–2 s from now. */
  constructor(opts: { epochLengthS?: bigint; market?: Hex } = {}) {
    this.market = opts.market ?? (`0x${"5e".repeat(32)}` as Hex);
    this.params = {
      base: `0x${"0b".repeat(20)}` as Hex,
      quote: `0x${"0c".repeat(20)}` as Hex,
      genesisTimeS: BigInt(Math.floor(Date.now() / 1000) + 2),
      epochLengthS: opts.epochLengthS ?? 2n,
      feeBps: 5n,
      bondWei: 10n ** 16n,
      challengeWindowS: (opts.epochLengthS ?? 2n) / 2n,
      minQuantity: 1n,
    };
    this.chain.addMarket(this.market, this.params);
    // Every valid key(i) (i < 191: key(i) is one byte repeated, and 0xff… exceeds the curve order) has
    // deposited: intake carries only depositors' orders.
    for (let i = 0; i < 191; i++) this.chain.fund(this.market, addressOfPrivateKey(key(i)));
  }

  startMs(epoch: bigint): number {
    return Number(epochStartMs(this.params, epoch));
  }

  /** Sleeps until `ms` after the start of `epoch`. */
  async at(epoch: bigint, ms: number): Promise<void> {
    await sleep(this.startMs(epoch) + ms - Date.now());
  }

  async addNode(
    name: string,
    opts: {
      submit?: boolean;
      faults?: PortFaults;
      walletIndex?: number;
      pollMs?: number;
      /** Shifts this node's clock (ms; positive: ahead). */
      clockOffsetMs?: number;
      peerClock?: PeerClock;
      /** The node's metrics registry, for the parts that register their own metrics (none by default). */
      registry?: Registry;
    } = {},
  ): Promise<TestNode> {
    const privateKey = key(100 + this.nodes.length + (opts.walletIndex ?? 0));
    const wallet = { address: addressOfPrivateKey(privateKey), privateKey };
    const port = this.chain.port(wallet.address);
    Object.assign(port.faults, opts.faults ?? {});
    const logs: string[] = [];
    const logger: Logger = createLogger({ level: "debug", component: name, write: (l) => logs.push(l) });
    const store = new NodeStore(join(this.dir, `${name}.db`));
    const network = await this.net.attach();
    let nonce = 0n;
    const session = new MarketSession(
      {
        context: makeMarketContext(this.market, await port.getMarket(this.market), DOMAIN, SEPARATOR),
        submit: opts.submit ?? true,
      },
      {
        chain: port,
        store,
        network,
        wallet,
        nonces: { next: () => nonce++ },
        metrics: new NodeMetrics().forMarket(this.market),
        logger,
        clock: opts.clockOffsetMs ? () => Date.now() + opts.clockOffsetMs! : Date.now,
        ...(opts.peerClock ? { peerClock: opts.peerClock } : {}),
        ...(opts.registry ? { registry: opts.registry } : {}),
      },
    );
    const follower = new ChainFollower({
      chain: port,
      logger: logger.child("chain"),
      listeners: () => new Map([[this.market, session]]),
      pollMs: opts.pollMs ?? 50,
    });
    await session.start();
    await follower.start();
    const node: TestNode = {
      name,
      session,
      port,
      store,
      follower,
      logs,
      peerId: network.peerId,
      record: (epoch) => store.getEpoch(this.market, epoch),
      stop: async () => {
        await follower.stop();
        await session.stop();
      },
    };
    this.nodes.push(node);
    return node;
  }

  /**
   * Stops a node and closes its store, as a process exit would: addNode with the same name then starts it
   * again on the same store file.
   */
  async shutdown(node: TestNode): Promise<void> {
    await node.stop();
    node.store.close();
    this.nodes.splice(this.nodes.indexOf(node), 1);
  }

  /** A device (key index i) signs an order for the epoch and sends it to `node` as the control API would. */
  async order(
    node: TestNode,
    device: number,
    side: Side,
    quantity: bigint,
    limitPrice: bigint,
    epoch: bigint,
  ) {
    const signed = this.sign(device, side, quantity, limitPrice, epoch);
    return node.session.submitJson(orderToJson(signed));
  }

  /** An order signed by device key i, not sent anywhere (an attacker's, or one to hand over later). */
  sign(device: number, side: Side, quantity: bigint, limitPrice: bigint, epoch: bigint): SignedOrder {
    const privateKey = key(device);
    const trader = addressOfPrivateKey(privateKey);
    const nonce = this.nonces.get(trader) ?? 0n;
    this.nonces.set(trader, nonce + 1n);
    const order: Order = { market: this.market, epoch, side, quantity, limitPrice, nonce, trader };
    return { ...order, signature: signDigest(orderDigestBytes(order, SEPARATOR), privateKey) };
  }

  /** Hands an already signed order to `node` as the control API would. */
  submit(node: TestNode, signed: SignedOrder) {
    return node.session.submitJson(orderToJson(signed));
  }

  /** The order's id (its EIP-712 digest under the market's domain). */
  idOf(order: Order): Hex {
    return orderId(order, SEPARATOR);
  }

  /** Sets what device i holds in escrow for the market (the fake chain's collateral table). */
  setCollateral(device: number, c: Collateral): void {
    this.chain.collateral.set(`${this.market}:${addressOfPrivateKey(key(device))}`, c);
  }

  /**
   * An outsider proposes the certified clearing of `orders` (any valid signed orders of the epoch), as an
   * attacker would: from the documented batch format, with its own wallet.
   */
  propose(sender: Hex, epoch: bigint, orders: readonly SignedOrder[]) {
    const sel = selectBatch({
      market: this.market,
      epoch,
      domainSeparator: SEPARATOR,
      orders,
      collateral: (trader, asset) => {
        const c = this.chain.collateralOf(this.market, trader);
        return asset === 0 ? c.base : c.quote;
      },
    });
    if (sel.outcome !== "batch") throw new Error("those orders do not trade");
    return { event: this.chain.propose(sender, this.market, epoch, sel.bytes), result: sel.clearing };
  }

  /** Two buyers and two sellers whose limits cross: every epoch trades. */
  async crossingBook(nodes: readonly TestNode[], epoch: bigint): Promise<void> {
    await this.order(nodes[0 % nodes.length]!, 1, "buy", 100n, 300n, epoch);
    await this.order(nodes[1 % nodes.length]!, 2, "buy", 80n, 260n, epoch);
    await this.order(nodes[2 % nodes.length]!, 3, "sell", 90n, 200n, epoch);
    await this.order(nodes[0 % nodes.length]!, 4, "sell", 70n, 250n, epoch);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.nodes.map((n) => n.stop()));
    for (const n of this.nodes) n.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
