// The JSON-RPC provider every chain client here uses: ethers' JsonRpcProvider, with its request and
// response bodies encoded and decoded by Node's UTF-8 coders instead of ethers' JavaScript ones.
//
// Why: ethers converts each body code point by code point in JavaScript. A node's large requests and
// responses (an epoch's collateral: 21 KB of calldata and 64 KB of return data per 500 traders; logs of
// many deposits) made that the first item of a loaded node's profile: ~4 s of CPU in a 100 s benchmark
// run, more than signature recovery. Decoding
// stays strict (invalid UTF-8 is an error); a body that is not UTF-8 or not JSON goes through ethers' own
// decoding, which throws ethers' errors for it, as before.
import type {
  FetchRequest,
  JsonRpcApiProviderOptions,
  JsonRpcPayload,
  JsonRpcResult,
  Networkish,
} from "ethers";
import { JsonRpcProvider } from "../protocol/ethers.ts";

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });
const UTF8 = new TextEncoder();

export class HttpJsonRpcProvider extends JsonRpcProvider {
  constructor(url: string | FetchRequest, network?: Networkish, options?: JsonRpcApiProviderOptions) {
    super(url, network, options);
  }

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    // As ethers' JsonRpcProvider._send, except for the decoding of the body.
    const request = this._getConnection();
    request.body = UTF8.encode(JSON.stringify(payload));
    request.setHeader("content-type", "application/json");
    const response = await request.send();
    response.assertOk();
    let body: unknown;
    try {
      if (response.body === null) throw new Error("no body");
      body = JSON.parse(STRICT_UTF8.decode(response.body));
    } catch {
      body = response.bodyJson;
    }
    return Array.isArray(body) ? (body as JsonRpcResult[]) : [body as JsonRpcResult];
  }
}
