// The control API server: HTTP + JSON on 127.0.0.1 (by default), every route behind the bearer token
// kept in the data dir except GET /health. The routes, requests and responses are in api/types.ts.
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { parseUint } from "../protocol/amount.ts";
import { OrderError } from "../protocol/errors.ts";
import { type Hex, isHex } from "../protocol/hex.ts";
import { orderToJson } from "../protocol/order.ts";
import { checkCoverage } from "./api/coverage.ts";
import { parseOrderRequest } from "./api/order-request.ts";
import { isUsableToken } from "./api/token.ts";
import type {
  ApiErrorBody,
  LeaveMarketResponse,
  MarketStatus,
  MarketTokens,
  NodeStatus,
  SubmitBatchResponse,
  SubmitOrderResponse,
} from "./api/types.ts";
import { ChainError } from "./chain/port.ts";
import { NodeInputError } from "./errors.ts";
import type { Logger } from "./logger.ts";
import type { MarketSession } from "./market/session.ts";
import type { SmartNode } from "./node.ts";

// `node:http` through require(): imported as an ES module, Node reads every export of it and that loads
// its fetch/WebSocket implementation (undici, ~10 MB resident) which the API does not use.
const { createServer } = createRequire(import.meta.url)("node:http") as typeof import("node:http");

const MAX_BODY_BYTES = 16 * 1024;
/** A batch of MAX_ORDERS_PER_SUBMISSION signed orders in JSON is about 140 KB. */
const MAX_BATCH_BODY_BYTES = 320 * 1024;
const MAX_EPOCHS_LISTED = 1000;
const DEFAULT_EPOCHS_LISTED = 20n;
const DEFAULT_FILLS_LISTED = 20n;
const NO_TOKENS: MarketTokens = { base: null, quote: null };

export interface ApiServerOptions {
  readonly host: string;
  readonly port: number;
}

class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(`${text}\n`);
}

function sendError(res: ServerResponse, status: number, error: ApiErrorBody): void {
  send(res, status, { error });
}

async function readBody(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new HttpError(413, "BODY_TOO_LARGE", `request body over ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new HttpError(400, "MALFORMED_JSON", "the request body is not valid JSON");
  }
}

/** Attack defeated: with an empty token, `Bearer \xa0` (or any blank) authenticated. Blank never does. */
export function tokenMatches(header: string | undefined, token: string): boolean {
  if (!header?.startsWith("Bearer ") || !isUsableToken(token)) return false;
  const presented = header.slice(7).trim();
  if (!isUsableToken(presented)) return false;
  const given = Buffer.from(presented);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function uintParam(value: string | null, name: string): bigint | undefined {
  if (value === null) return undefined;
  try {
    return parseUint(value, name);
  } catch (err) {
    throw new HttpError(400, "BAD_PARAMETER", (err as Error).message);
  }
}

function marketParam(text: string): Hex {
  const id = decodeURIComponent(text).toLowerCase();
  if (!isHex(id, 32)) throw new HttpError(400, "BAD_MARKET_ID", `"${text}" is not a market id (0x + 64 hex)`);
  return id as Hex;
}

function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError(400, "MALFORMED", "the body must be a JSON object");
  }
  return body as Record<string, unknown>;
}

/** What the API server uses of the node (a SmartNode; tests may pass a node built around one session). */
export type ApiNode = Pick<
  SmartNode,
  | "apiToken"
  | "status"
  | "peerKeeper"
  | "metrics"
  | "sessions"
  | "session"
  | "joinMarket"
  | "leaveMarket"
  | "chain"
  | "wallet"
  | "store"
>;

function boolParam(value: string | null, name: string): boolean | undefined {
  if (value === null) return undefined;
  if (value !== "true" && value !== "false") {
    throw new HttpError(400, "BAD_PARAMETER", `${name} must be "true" or "false"`);
  }
  return value === "true";
}

function addressParam(value: string | null, name: string): Hex | undefined {
  if (value === null) return undefined;
  const a = value.toLowerCase();
  if (!isHex(a, 20)) throw new HttpError(400, "BAD_PARAMETER", `${name} "${value}" is not an address`);
  return a as Hex;
}

export interface ApiServerModules {
  readonly node: ApiNode;
  readonly logger: Logger;
}

export class ApiServer {
  private server: Server | null = null;
  private readonly node: ApiNode;
  private readonly opts: ApiServerOptions;
  private readonly log: Logger;
  /** Each market's token metadata, read once from the chain (a failed read is tried again later). */
  private readonly tokens = new Map<Hex, Promise<MarketTokens>>();

  constructor(opts: ApiServerOptions, modules: ApiServerModules) {
    this.opts = opts;
    this.node = modules.node;
    this.log = modules.logger;
  }

  get url(): string {
    const addr = this.server?.address() as AddressInfo | null;
    if (!addr) throw new Error("the API server is not listening");
    const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
    return `http://${host}:${addr.port}`;
  }

  /** The market's token metadata: read once per market through the chain port, then cached. */
  private async tokensOf(session: MarketSession): Promise<MarketTokens> {
    const chain = this.node.chain;
    if (!chain.tokenMeta) return NO_TOKENS;
    let p = this.tokens.get(session.market);
    if (!p) {
      const { base, quote } = session.context.params;
      p = Promise.all([chain.tokenMeta(base), chain.tokenMeta(quote)]).then(([b, q]) => ({
        base: b,
        quote: q,
      }));
      this.tokens.set(session.market, p);
    }
    try {
      return await p;
    } catch (err) {
      this.tokens.delete(session.market);
      // Shown in raw units until a later view reads them again.
      this.log.warn("token metadata read failed; amounts shown in raw units", {
        market: session.market,
        err: (err as Error).message,
      });
      return NO_TOKENS;
    }
  }

  private async marketView(session: MarketSession): Promise<MarketStatus> {
    return { ...session.views.status(), tokens: await this.tokensOf(session) };
  }

  private async nodeStatus(): Promise<NodeStatus> {
    const st = this.node.status();
    const markets = await Promise.all(
      st.markets.map(async (m) => {
        const session = this.node.sessions.get(m.id);
        return session ? { ...m, tokens: await this.tokensOf(session) } : m;
      }),
    );
    return { ...st, markets };
  }

  async start(): Promise<void> {
    // Token metadata of the markets served now is read in the background (joins read theirs on join).
    for (const session of this.node.sessions.values()) void this.tokensOf(session);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (err instanceof HttpError || err instanceof NodeInputError) {
          return sendError(res, err.status, { code: err.code, message: err.message });
        }
        if (err instanceof OrderError) return sendError(res, 400, { code: err.code, message: err.detail });
        // The chain did not answer or refused a read: a runtime failure, not the caller's input.
        if (err instanceof ChainError)
          return sendError(res, 502, { code: `CHAIN_${err.code}`, message: err.message });
        this.log.error("API handler failed", { url: req.url, err: (err as Error).stack ?? String(err) });
        sendError(res, 500, { code: "INTERNAL", message: (err as Error).message });
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(this.opts.port, this.opts.host, () => resolve());
    });
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const method = req.method ?? "GET";
    if (method === "GET" && path === "/health") return send(res, 200, { ok: true });
    const node = this.node;
    if (!tokenMatches(req.headers.authorization, node.apiToken)) {
      throw new HttpError(401, "UNAUTHORIZED", "missing or wrong bearer token (see <data-dir>/api-token)");
    }
    if (method === "GET" && path === "/status") return send(res, 200, await this.nodeStatus());
    if (method === "GET" && path === "/peers") return send(res, 200, await node.peerKeeper.peers());
    const peerMatch = /^\/peers\/([^/]+)$/.exec(path);
    if (method === "GET" && peerMatch) {
      return send(res, 200, await node.peerKeeper.peer(decodeURIComponent(peerMatch[1]!)));
    }
    if (method === "GET" && path === "/metrics") {
      res.writeHead(200, { "content-type": node.metrics.contentType });
      res.end(await node.metrics.text());
      return;
    }
    if (path === "/markets") {
      if (method === "GET")
        return send(res, 200, await Promise.all([...node.sessions.values()].map((s) => this.marketView(s))));
      if (method === "POST") {
        const body = objectBody(await readBody(req));
        if (typeof body.market !== "string") throw new HttpError(400, "MALFORMED", 'the body needs "market"');
        const session = await node.joinMarket(marketParam(body.market));
        return send(res, 201, await this.marketView(session));
      }
    }
    const marketMatch = /^\/markets\/([^/]+)(\/.*)?$/.exec(path);
    if (marketMatch)
      return this.handleMarket(req, res, method, marketParam(marketMatch[1]!), marketMatch[2] ?? "", url);
    throw new HttpError(404, "NOT_FOUND", `no route ${method} ${path}`);
  }

  private async handleMarket(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    market: Hex,
    rest: string,
    url: URL,
  ): Promise<void> {
    const node = this.node;
    if (rest === "" && method === "DELETE") {
      await node.leaveMarket(market);
      this.tokens.delete(market);
      const body: LeaveMarketResponse = { market, left: true };
      return send(res, 200, body);
    }
    const session: MarketSession = node.session(market);
    if (rest === "" && method === "GET") return send(res, 200, await this.marketView(session));
    const q = url.searchParams;
    if (rest === "/order-status" && method === "GET") {
      const epoch = uintParam(q.get("epoch"), "epoch");
      const last = uintParam(q.get("last"), "last");
      if (last !== undefined && (last === 0n || last > BigInt(MAX_EPOCHS_LISTED))) {
        throw new HttpError(400, "BAD_PARAMETER", `last must be between 1 and ${MAX_EPOCHS_LISTED}`);
      }
      const trader = addressParam(q.get("trader"), "trader");
      const views = session.views.orderStatuses({
        ...(epoch === undefined ? {} : { epoch }),
        ...(last === undefined ? {} : { last: Number(last) }),
        ...(trader === undefined ? {} : { trader }),
      });
      return send(res, 200, views);
    }
    if (rest === "/fills" && method === "GET") {
      const last = uintParam(q.get("last"), "last") ?? DEFAULT_FILLS_LISTED;
      if (last === 0n || last > BigInt(MAX_EPOCHS_LISTED)) {
        throw new HttpError(400, "BAD_PARAMETER", `last must be between 1 and ${MAX_EPOCHS_LISTED}`);
      }
      return send(res, 200, session.views.fills(node.wallet.address, Number(last)));
    }
    if (rest === "/coverage" && method === "GET") {
      const req = parseOrderRequest({
        side: q.get("side") ?? undefined,
        quantity: q.get("quantity") ?? undefined,
        price: q.get("price") ?? undefined,
        ...(q.get("epoch") === null ? {} : { epoch: q.get("epoch") }),
      });
      const current = session.currentEpoch();
      const check = await checkCoverage(
        {
          market,
          trader: node.wallet.address,
          epoch: req.epoch ?? current,
          current,
          chain: node.chain,
          store: node.store,
        },
        req,
      );
      return send(res, 200, check);
    }
    if (rest === "/orders" && method === "GET") {
      const epoch = uintParam(url.searchParams.get("epoch"), "epoch") ?? session.currentEpoch();
      return send(res, 200, session.views.orders(epoch));
    }
    if (rest === "/orders" && method === "POST") {
      const raw = await readBody(req, MAX_BATCH_BODY_BYTES);
      if (Array.isArray(raw)) {
        // A batch of orders signed elsewhere (a gateway, a fleet): each order has its own fate.
        const results = await session.submitBatch(raw);
        const accepted = results.filter((r) => r.status === "accepted").length;
        const out: SubmitBatchResponse = { accepted, refused: results.length - accepted, results };
        return send(res, 200, out);
      }
      const body = objectBody(raw);
      // A device signed it (it has a signature), or the node is to sign it.
      const submitted =
        "signature" in body
          ? await session.submitJson(body)
          : await session.submitRequest(parseOrderRequest(body));
      const out: SubmitOrderResponse = {
        id: submitted.id,
        recipients: submitted.recipients,
        order: { id: submitted.id, ...orderToJson(submitted.order) },
      };
      return send(res, 201, out);
    }
    if (rest === "/epochs" && method === "GET") {
      const last = uintParam(url.searchParams.get("last"), "last") ?? DEFAULT_EPOCHS_LISTED;
      return send(
        res,
        200,
        session.views.epochs(Number(last > BigInt(MAX_EPOCHS_LISTED) ? MAX_EPOCHS_LISTED : last)),
      );
    }
    const epochMatch = /^\/epochs\/([^/]+)$/.exec(rest);
    if (epochMatch && method === "GET") {
      const orders = boolParam(q.get("orders"), "orders");
      return send(res, 200, session.views.epoch(uintParam(epochMatch[1]!, "epoch")!, orders !== false));
    }
    throw new HttpError(404, "NOT_FOUND", `no route ${method} /markets/${market}${rest}`);
  }
}
