// The control API server: HTTP + JSON on 127.0.0.1 (by default), every route behind the bearer token
// kept in the data dir except GET /health. The routes, requests and responses are in api/types.ts.
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseUint } from "../protocol/amount.ts";
import { OrderError } from "../protocol/errors.ts";
import { type Hex, isHex } from "../protocol/hex.ts";
import { orderToJson } from "../protocol/order.ts";
import { parseOrderRequest } from "./api/order-request.ts";
import type { ApiErrorBody, LeaveMarketResponse, SubmitOrderResponse } from "./api/types.ts";
import { NodeInputError } from "./errors.ts";
import type { Logger } from "./logger.ts";
import type { MarketSession } from "./market/session.ts";
import type { SmartNode } from "./node.ts";

const MAX_BODY_BYTES = 16 * 1024;
const MAX_EPOCHS_LISTED = 1000;
const DEFAULT_EPOCHS_LISTED = 20n;

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

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES)
      throw new HttpError(413, "BODY_TOO_LARGE", `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new HttpError(400, "MALFORMED_JSON", "the request body is not valid JSON");
  }
}

function tokenMatches(header: string | undefined, token: string): boolean {
  if (!header?.startsWith("Bearer ")) return false;
  const given = Buffer.from(header.slice(7).trim());
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

export interface ApiServerModules {
  readonly node: SmartNode;
  readonly logger: Logger;
}

export class ApiServer {
  private server: Server | null = null;
  private readonly node: SmartNode;
  private readonly opts: ApiServerOptions;
  private readonly log: Logger;

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

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (err instanceof HttpError || err instanceof NodeInputError) {
          return sendError(res, err.status, { code: err.code, message: err.message });
        }
        if (err instanceof OrderError) return sendError(res, 400, { code: err.code, message: err.detail });
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
    if (method === "GET" && path === "/status") return send(res, 200, node.status());
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
        return send(
          res,
          200,
          [...node.sessions.values()].map((s) => s.views.status()),
        );
      if (method === "POST") {
        const body = objectBody(await readBody(req));
        if (typeof body.market !== "string") throw new HttpError(400, "MALFORMED", 'the body needs "market"');
        const session = await node.joinMarket(marketParam(body.market));
        return send(res, 201, session.views.status());
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
      const body: LeaveMarketResponse = { market, left: true };
      return send(res, 200, body);
    }
    const session: MarketSession = node.session(market);
    if (rest === "" && method === "GET") return send(res, 200, session.views.status());
    if (rest === "/orders" && method === "GET") {
      const epoch = uintParam(url.searchParams.get("epoch"), "epoch") ?? session.currentEpoch();
      return send(res, 200, session.views.orders(epoch));
    }
    if (rest === "/orders" && method === "POST") {
      const body = objectBody(await readBody(req));
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
      const orders = url.searchParams.get("orders");
      if (orders !== null && orders !== "true" && orders !== "false") {
        throw new HttpError(400, "BAD_PARAMETER", 'orders must be "true" or "false"');
      }
      return send(res, 200, session.views.epoch(uintParam(epochMatch[1]!, "epoch")!, orders !== "false"));
    }
    throw new HttpError(404, "NOT_FOUND", `no route ${method} /markets/${market}${rest}`);
  }
}
