// The control API: HTTP + JSON on 127.0.0.1 (by default), every route behind the bearer token kept in
// the data dir except GET /health. Amounts are decimal strings.
//
//   GET  /health               liveness, no token
//   GET  /status               node, market, epoch, peers
//   GET  /peers                connected peers
//   GET  /peers/:id            one peer (with a fresh ping)
//   GET  /orders?epoch=N       orders of an epoch (default: the current one)
//   POST /orders               {"side","quantity","price"[,"epoch"]} signed by the node's wallet, or a
//                              signed order in the protocol's JSON form (it has a "signature")
//   GET  /epochs?last=N        recent epochs, newest first
//   GET  /epochs/:n            one epoch: orders, fingerprint, result, settlement, agreement
//                              (?orders=false leaves out the order list)
//   GET  /metrics              Prometheus text format
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseUint } from "../protocol/amount.ts";
import { AmountError } from "../protocol/errors.ts";
import { orderToJson } from "../protocol/order.ts";
import type { Logger } from "./logger.ts";
import { type MarketNode, NodeInputError } from "./market-node.ts";

const MAX_BODY_BYTES = 16 * 1024;
const MAX_EPOCHS_LISTED = 1000;

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

/** Parses the node-signed order request: side, quantity and price as decimal strings. */
function parseOrderRequest(body: Record<string, unknown>) {
  const known = new Set(["side", "quantity", "price", "limitPrice", "epoch"]);
  for (const k of Object.keys(body)) {
    if (!known.has(k)) throw new HttpError(400, "UNKNOWN_FIELD", `unknown field "${k}"`);
  }
  const side = body.side;
  if (side !== "buy" && side !== "sell") throw new HttpError(400, "BAD_SIDE", 'side must be "buy" or "sell"');
  const amount = (name: string, value: unknown): bigint => {
    if (typeof value !== "string") throw new HttpError(400, "BAD_AMOUNT", `${name} must be a decimal string`);
    try {
      return parseUint(value, name);
    } catch (err) {
      if (err instanceof AmountError) throw new HttpError(400, "BAD_AMOUNT", err.message);
      throw err;
    }
  };
  const priceRaw = body.price ?? body.limitPrice;
  return {
    side,
    quantity: amount("quantity", body.quantity),
    limitPrice: amount("price", priceRaw),
    epoch: body.epoch === undefined ? undefined : amount("epoch", body.epoch),
  } as const;
}

export class ApiServer {
  private server: Server | null = null;
  private readonly node: MarketNode;
  private readonly opts: ApiServerOptions;
  private readonly log: Logger;

  constructor(opts: ApiServerOptions, modules: { node: MarketNode; logger: Logger }) {
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
        if (err instanceof HttpError)
          return send(res, err.status, { error: { code: err.code, message: err.message } });
        if (err instanceof NodeInputError) {
          return send(res, err.status, { error: { code: err.code, message: err.message } });
        }
        this.log.error("API handler failed", { url: req.url, err: (err as Error).stack ?? String(err) });
        send(res, 500, { error: { code: "INTERNAL", message: (err as Error).message } });
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
    if (!tokenMatches(req.headers.authorization, this.node.apiToken)) {
      throw new HttpError(401, "UNAUTHORIZED", "missing or wrong bearer token (see <data-dir>/api-token)");
    }
    const node = this.node;
    if (method === "GET" && path === "/status") return send(res, 200, node.status());
    if (method === "GET" && path === "/peers") return send(res, 200, await node.peers());
    const peerMatch = /^\/peers\/([^/]+)$/.exec(path);
    if (method === "GET" && peerMatch)
      return send(res, 200, await node.peer(decodeURIComponent(peerMatch[1]!)));
    if (method === "GET" && path === "/orders") {
      const epoch = uintParam(url.searchParams.get("epoch"), "epoch") ?? node.currentEpoch();
      return send(res, 200, node.orders(epoch));
    }
    if (method === "POST" && path === "/orders") {
      const body = await readBody(req);
      if (typeof body !== "object" || body === null || Array.isArray(body)) {
        throw new HttpError(400, "MALFORMED", "the body must be a JSON object");
      }
      const obj = body as Record<string, unknown>;
      const submitted =
        "signature" in obj ? await node.submitOrderJson(obj) : await node.submitOrder(parseOrderRequest(obj));
      return send(res, 201, {
        id: submitted.id,
        recipients: submitted.recipients,
        order: { id: submitted.id, ...orderToJson(submitted.order) },
      });
    }
    if (method === "GET" && path === "/epochs") {
      const last = Number(uintParam(url.searchParams.get("last"), "last") ?? 20n);
      return send(res, 200, node.epochs(Math.min(last, MAX_EPOCHS_LISTED)));
    }
    const epochMatch = /^\/epochs\/([^/]+)$/.exec(path);
    if (method === "GET" && epochMatch) {
      const orders = url.searchParams.get("orders");
      if (orders !== null && orders !== "true" && orders !== "false") {
        throw new HttpError(400, "BAD_PARAMETER", 'orders must be "true" or "false"');
      }
      return send(res, 200, node.epoch(uintParam(epochMatch[1]!, "epoch")!, orders !== "false"));
    }
    if (method === "GET" && path === "/metrics") {
      res.writeHead(200, { "content-type": node.metrics.contentType });
      res.end(await node.metrics.text());
      return;
    }
    throw new HttpError(404, "NOT_FOUND", `no route ${method} ${path}`);
  }
}
