// Bad arguments and run-time failures of the CLI print one clear line: negative numbers given as values,
// unknown options, an API error's code (once), a port already in use. Through the real entry point
// (bin/smartmarket.js), as a user runs it.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { ApiError } from "../../../node/api/client.ts";
import { apiErrorText } from "../../../node/cli/api-client.ts";
import { normalizeArgs } from "../../../node/cli/main.ts";

const BIN = fileURLToPath(new URL("../../../bin/smartmarket.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "smartmarket-cli-errors-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MARKET = `0x${"ab".repeat(32)}`;
/** What `node start` needs before it binds anything (no chain answers there: the port check comes first). */
const CHAIN = ["--rpc-url", "http://127.0.0.1:9", "--contract", `0x${"11".repeat(20)}`];

function cli(args: string[]) {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("SMARTMARKET_")) clean[k] = v;
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    // Async, so that a server in this process can answer the CLI.
    import("node:child_process").then(({ execFile }) => {
      execFile(
        process.execPath,
        [BIN, ...args],
        { env: { ...clean, SMARTMARKET_DATA_DIR: dir } },
        (err, stdout, stderr) => {
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
        },
      );
    });
  });
}

const lines = (text: string) => text.split("\n").filter((l) => l !== "");

function listen(server: Server, host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, host, () => resolve((server.address() as { port: number }).port)),
  );
}

describe("CLI argument errors", () => {
  it("a negative number is a value: one line saying what it must be, exit 2", async () => {
    const quantity = await cli(["order", "buy", "--quantity", "-5", "--price", "1", "--token", "t"]);
    expect(quantity.code).toBe(2);
    expect(lines(quantity.stderr)).toEqual([
      "smartmarket order: --quantity must be a whole number > 0, got -5",
    ]);
    const price = await cli(["order", "sell", "--quantity", "5", "--price=-2", "--token", "t"]);
    expect(price.code).toBe(2);
    expect(lines(price.stderr)).toEqual(["smartmarket order: --price must be a whole number > 0, got -2"]);
    const epoch = await cli(["epoch", "-1", "--token", "t"]);
    expect(epoch.code).toBe(2);
    expect(lines(epoch.stderr)).toEqual(["smartmarket epoch: epoch must be a whole number >= 0, got -1"]);
    const last = await cli(["epochs", "--last", "-3", "--token", "t"]);
    expect(last.code).toBe(2);
    expect(lines(last.stderr)).toEqual(["smartmarket epochs: --last must be a whole number >= 0, got -3"]);
  });

  it("an unknown option or a missing value is one line, not the whole usage", async () => {
    const unknown = await cli(["order", "buy", "--quantiy", "5"]);
    expect(unknown.code).toBe(2);
    expect(lines(unknown.stderr)).toEqual([
      "smartmarket order: unknown option --quantiy (see `smartmarket order --help`)",
    ]);
    const missing = await cli(["order", "buy", "--quantity"]);
    expect(missing.code).toBe(2);
    expect(lines(missing.stderr)).toEqual([
      "smartmarket order: --quantity needs a value (see `smartmarket order --help`)",
    ]);
  });

  it("normalizeArgs passes negative numbers as values and leaves everything else in place", () => {
    const opts = { quantity: { type: "string" as const }, json: { type: "boolean" as const } };
    expect(normalizeArgs(["buy", "--quantity", "-5", "--json"], opts)).toEqual([
      "buy",
      "--quantity=-5",
      "--json",
    ]);
    expect(normalizeArgs(["-1", "--json"], opts)).toEqual(["--json", "--", "-1"]);
    expect(normalizeArgs(["buy", "--quantity"], opts)).toEqual(["buy", "--quantity"]);
    expect(normalizeArgs(["--quantity", "--json"], opts)).toEqual(["--quantity", "--json"]);
  });

  it("an API error names its code once", async () => {
    const msg = "EPOCH_OUT_OF_WINDOW: order for epoch 5 is outside the window [7, 9]";
    expect(apiErrorText(new ApiError(400, "EPOCH_OUT_OF_WINDOW", `${msg} (EPOCH_OUT_OF_WINDOW)`))).toBe(msg);
    expect(apiErrorText(new ApiError(400, "NOT_FOUND", "no such epoch (NOT_FOUND)"))).toBe(
      "no such epoch (NOT_FOUND)",
    );
    // Through the CLI, against an HTTP server that answers like a node's control API.
    const http = createHttpServer((_req, res) => {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "EPOCH_OUT_OF_WINDOW", message: msg } }));
    });
    const port = await listen(http as unknown as Server);
    try {
      const r = await cli([
        "epoch",
        "5",
        "--market",
        MARKET,
        "--api",
        `http://127.0.0.1:${port}`,
        "--token",
        "t",
      ]);
      expect(r.code).toBe(2);
      expect(lines(r.stderr)).toEqual([`smartmarket epoch: ${msg}`]);
      expect(r.stderr.match(/EPOCH_OUT_OF_WINDOW/g)).toHaveLength(1);
    } finally {
      http.close();
    }
  });
});

describe("order --file", () => {
  it("a file that cannot be read, is not JSON or holds no signed orders: one line, exit 2, before any network", async () => {
    const missing = await cli([
      "order",
      "--file",
      join(dir, "nope.json"),
      "--market",
      MARKET,
      "--token",
      "t",
    ]);
    expect(missing.code).toBe(2);
    expect(lines(missing.stderr)).toHaveLength(1);
    expect(missing.stderr).toMatch(/cannot read .*nope\.json/);
    const { writeFileSync } = await import("node:fs");
    const bad = join(dir, "bad.json");
    writeFileSync(bad, '[{"side": "buy"}]');
    const unsigned = await cli(["order", "--file", bad, "--market", MARKET, "--token", "t"]);
    expect(unsigned.code).toBe(2);
    expect(lines(unsigned.stderr)).toEqual([
      `smartmarket order: ${bad}: order 1 is not a signed order (an object with a "signature")`,
    ]);
    const mixed = await cli(["order", "buy", "--file", bad, "--market", MARKET, "--token", "t"]);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/--file sends signed orders as they are/);
  });

  it("sends the file's orders in requests of at most 256 and prints each order's fate; exit 1 if one was refused", async () => {
    const { writeFileSync } = await import("node:fs");
    const file = join(dir, "orders.ndjson");
    // 300 lines: one JSON order per line (the node validates them; this server only counts them)
    writeFileSync(
      file,
      Array.from({ length: 300 }, (_, i) => JSON.stringify({ signature: `0x${i}`, n: i })).join("\n"),
    );
    const sizes: number[] = [];
    const http = createHttpServer((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        const items = JSON.parse(body) as { n: number }[];
        sizes.push(items.length);
        const results = items.map((o) =>
          o.n === 7
            ? { status: "refused", id: null, code: "SIGNER_MISMATCH", detail: "signed by someone else" }
            : { status: "accepted", id: `0x${o.n.toString(16).padStart(64, "0")}`, recipients: 3 },
        );
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ accepted: results.length, refused: 0, results }));
      });
    });
    const port = await listen(http as unknown as Server);
    try {
      const r = await cli([
        "order",
        "--file",
        file,
        "--market",
        MARKET,
        "--api",
        `http://127.0.0.1:${port}`,
        "--token",
        "t",
      ]);
      expect(sizes).toEqual([256, 44]);
      expect(r.code).toBe(1);
      const out = lines(r.stdout);
      expect(out).toHaveLength(301);
      expect(out[7]).toBe("order 8: refused SIGNER_MISMATCH: signed by someone else");
      expect(out.at(-1)).toBe("299 of 300 orders accepted");
    } finally {
      http.close();
    }
  });
});

describe("node start with a port in use", () => {
  it("the libp2p port: one line naming the port and the flag, exit 1", async () => {
    const other = createServer();
    const port = await listen(other, "0.0.0.0");
    try {
      const addr = `/ip4/0.0.0.0/tcp/${port}`;
      const r = await cli([
        "node",
        "start",
        "--listen",
        addr,
        "--api-port",
        "0",
        "--market",
        MARKET,
        ...CHAIN,
      ]);
      expect(r.code).toBe(1);
      expect(lines(r.stderr)).toEqual([
        `smartmarket node start: port ${port} is in use (--listen ${addr}): stop the other process or choose another port`,
      ]);
    } finally {
      other.close();
    }
  });

  it("the control API port: the same, naming --api-port", async () => {
    const other = createServer();
    const port = await listen(other);
    try {
      const r = await cli([
        "node",
        "start",
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--api-port",
        String(port),
        "--market",
        MARKET,
        ...CHAIN,
      ]);
      expect(r.code).toBe(1);
      expect(lines(r.stderr)).toEqual([
        `smartmarket node start: port ${port} is in use (--api-port ${port}): stop the other process or choose another port`,
      ]);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      other.close();
    }
  });
});
