// A typed client of a node's control API (types.ts), for the CLI, the testnet and benchmarks. Every
// failure is an ApiError: `status` is the HTTP status, or null when the node could not be reached.
import type { Hex } from "../../protocol/hex.ts";
import type { OrderJson } from "../../protocol/order.ts";
import type {
  ApiErrorBody,
  CoverageCheck,
  EpochDetail,
  EpochSummary,
  FillRow,
  LeaveMarketResponse,
  MarketStatus,
  NodeStatus,
  OrderRequest,
  OrderStatusView,
  OrderView,
  PeerDetail,
  PeerView,
  SubmitBatchResponse,
  SubmitOrderResponse,
} from "./types.ts";

const DEFAULT_TIMEOUT_MS = 15_000;

export class ApiError extends Error {
  /** The HTTP status, or null if the node did not answer. */
  readonly status: number | null;
  /** The API's typed code (ApiErrorBody.code), UNREACHABLE, UNAUTHORIZED or HTTP_<status>. */
  readonly code: string;
  constructor(status: number | null, code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }

  /** Bad input on the caller's side (4xx other than 401): the CLI exits 2 on these. */
  get isInputError(): boolean {
    return this.status !== null && this.status >= 400 && this.status < 500 && this.status !== 401;
  }
}

export class ApiClient {
  readonly url: string;
  private readonly token: string | null;
  private readonly timeoutMs: number;

  constructor(url: string, token: string | null, opts: { timeoutMs?: number } = {}) {
    this.url = url.replace(/\/+$/, "");
    this.token = token;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** One call; `timeoutMs` bounds it (default: the client's). */
  async request<T>(method: string, path: string, body?: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    if (this.token === null) {
      throw new ApiError(
        null,
        "NO_TOKEN",
        "no API token: pass --token, set SMARTMARKET_API_TOKEN, or --data-dir of the node",
      );
    }
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new ApiError(
        null,
        "UNREACHABLE",
        `cannot reach the node at ${this.url} (${cause}); is it running? Start one with \`smartmarket node start\``,
      );
    }
    const text = await res.text();
    if (res.status === 401) {
      throw new ApiError(
        401,
        "UNAUTHORIZED",
        `the node at ${this.url} refused the API token (check --token / --data-dir)`,
      );
    }
    let json: unknown = null;
    if (text !== "" && (res.headers.get("content-type") ?? "").includes("json")) {
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
    } else json = text;
    if (!res.ok) {
      const e = (json as { error?: Partial<ApiErrorBody> } | null)?.error;
      if (e?.code && e.message) throw new ApiError(res.status, e.code, `${e.message} (${e.code})`);
      throw new ApiError(res.status, `HTTP_${res.status}`, `HTTP ${res.status}: ${text.slice(0, 200)}`);
    }
    return json as T;
  }

  status(): Promise<NodeStatus> {
    return this.request("GET", "/status");
  }

  peers(): Promise<PeerView[]> {
    return this.request("GET", "/peers");
  }

  peer(id: string): Promise<PeerDetail> {
    return this.request("GET", `/peers/${encodeURIComponent(id)}`);
  }

  markets(): Promise<MarketStatus[]> {
    return this.request("GET", "/markets");
  }

  market(id: Hex): Promise<MarketStatus> {
    return this.request("GET", `/markets/${id}`);
  }

  joinMarket(id: Hex): Promise<MarketStatus> {
    return this.request("POST", "/markets", { market: id });
  }

  leaveMarket(id: Hex): Promise<LeaveMarketResponse> {
    return this.request("DELETE", `/markets/${id}`);
  }

  orders(market: Hex, epoch?: bigint): Promise<OrderView[]> {
    return this.request("GET", `/markets/${market}/orders${epoch === undefined ? "" : `?epoch=${epoch}`}`);
  }

  /** An order for the node to sign (OrderRequest) or one a device signed (OrderJson with a signature). */
  submitOrder(market: Hex, order: OrderRequest | OrderJson): Promise<SubmitOrderResponse> {
    return this.request("POST", `/markets/${market}/orders`, order);
  }

  /** Submits up to 256 signed orders in one request; each has its own fate in the response. */
  submitOrders(market: Hex, orders: readonly OrderJson[]): Promise<SubmitBatchResponse> {
    return this.request("POST", `/markets/${market}/orders`, orders);
  }

  /** Whether the node's wallet's escrow covers this order (the coverage rule), before it is signed. */
  coverage(market: Hex, order: OrderRequest): Promise<CoverageCheck> {
    const q = new URLSearchParams({ side: order.side, quantity: order.quantity, price: order.price });
    if (order.epoch !== undefined) q.set("epoch", order.epoch);
    return this.request("GET", `/markets/${market}/coverage?${q}`);
  }

  /** Orders with their fate: of epoch `epoch`, or of the last `last` epochs; of `trader` only if given. */
  orderStatuses(
    market: Hex,
    opts: { epoch?: bigint; last?: number; trader?: Hex } = {},
  ): Promise<OrderStatusView[]> {
    const q = new URLSearchParams();
    if (opts.epoch !== undefined) q.set("epoch", opts.epoch.toString());
    if (opts.last !== undefined) q.set("last", String(opts.last));
    if (opts.trader !== undefined) q.set("trader", opts.trader);
    const qs = q.toString();
    return this.request("GET", `/markets/${market}/order-status${qs === "" ? "" : `?${qs}`}`);
  }

  /** The node's wallet's fills, newest first. */
  fills(market: Hex, last: number): Promise<FillRow[]> {
    return this.request("GET", `/markets/${market}/fills?last=${last}`);
  }

  epochs(market: Hex, last: number): Promise<EpochSummary[]> {
    return this.request("GET", `/markets/${market}/epochs?last=${last}`);
  }

  epoch(market: Hex, n: bigint, opts: { orders?: boolean } = {}): Promise<EpochDetail> {
    return this.request(
      "GET",
      `/markets/${market}/epochs/${n}${opts.orders === false ? "?orders=false" : ""}`,
    );
  }

  metrics(): Promise<string> {
    return this.request("GET", "/metrics");
  }
}
