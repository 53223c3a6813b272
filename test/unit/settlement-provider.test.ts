// HttpJsonRpcProvider (settlement/provider.ts) against a real HTTP server: responses decoded by Node's
// strict UTF-8 decoder give what ethers' own decoding gives, single and batched; a body that is not
// UTF-8 or not JSON is still an error.
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonRpcProvider } from "../../protocol/ethers.ts";
import { HttpJsonRpcProvider } from "../../settlement/provider.ts";

const TEXT = "héllo ✓ 𝄞 ünïcode, and plain ASCII";
let server: Server;
let url = "";
/** What the server answers next, as raw bytes (null: echo a JSON-RPC result of TEXT per request). */
let next: Buffer | null = null;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      if (next !== null) {
        res.end(next);
        return;
      }
      const payload = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id: number } | { id: number }[];
      const answer = (p: { id: number }) => ({ jsonrpc: "2.0", id: p.id, result: `${TEXT} #${p.id}` });
      res.end(JSON.stringify(Array.isArray(payload) ? payload.map(answer) : answer(payload)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => server.close());

const options = { staticNetwork: true, cacheTimeout: -1, batchStallTime: 0 } as const;

describe("HttpJsonRpcProvider", () => {
  it("decodes multi-byte UTF-8 as ethers' provider does, one request and a batch of them", async () => {
    next = null;
    const mine = new HttpJsonRpcProvider(url, 1, { ...options, batchStallTime: 5 });
    const theirs = new JsonRpcProvider(url, 1, { ...options, batchStallTime: 5 });
    try {
      for (const provider of [mine, theirs]) {
        expect(await provider.send("web3_clientVersion", [])).toMatch(new RegExp(`^${TEXT} #\\d+$`));
        // Sent within one stall window: one batched request, an array in the response.
        const batch = await Promise.all([1, 2, 3].map(() => provider.send("web3_clientVersion", [])));
        for (const r of batch) expect(r).toMatch(new RegExp(`^${TEXT} #\\d+$`));
        expect(new Set(batch).size).toBe(3);
      }
    } finally {
      mine.destroy();
      theirs.destroy();
    }
  });

  it("a body that is not UTF-8 or not JSON is an error, as with ethers", async () => {
    const provider = new HttpJsonRpcProvider(url, 1, options);
    try {
      for (const body of [
        Buffer.concat([
          Buffer.from('{"jsonrpc":"2.0","id":1,"result":"'),
          Buffer.from([0xff, 0xfe]),
          Buffer.from('"}'),
        ]),
        Buffer.from("<html>gateway error</html>"),
      ]) {
        next = body;
        await expect(provider.send("web3_clientVersion", [])).rejects.toThrow(/not valid/);
      }
    } finally {
      next = null;
      provider.destroy();
    }
  });
});
