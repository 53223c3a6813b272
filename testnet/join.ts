// Joining a running testnet from outside: the `node start` line a node started by hand needs
// (`testnet status` prints it), and `testnet fund`, which gives a wallet gas and test tokens.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { chainFailure, probeRpc } from "../node/cli/chain-context.ts";
import { type CliCommand, CliError, ExitCode } from "../node/cli/command.ts";
import { formatUnits, parseUnits } from "../protocol/amount.ts";
import { formatEther } from "../protocol/ethers.ts";
import { type Hex, isHex } from "../protocol/hex.ts";
import { fundOnDevChain } from "../settlement/dev-fund.ts";
import { tokenBalanceOf, tokenInfo } from "../settlement/erc20.ts";
import { HttpJsonRpcProvider } from "../settlement/provider.ts";
import { pidAlive, readState, type TestnetState } from "./network.ts";

/** The testnet's folder when --dir is not given (the launcher's default too). */
export const DEFAULT_DIR = ".testnet";

/** A node's bootstrap multiaddr: its config.json's first TCP listen address and its peer id. */
function bootstrapOf(node: TestnetState["nodes"][number]): string | null {
  const config = join(node.dataDir, "config.json");
  if (!existsSync(config)) return null;
  try {
    const listen = (JSON.parse(readFileSync(config, "utf8")) as { listen?: unknown }).listen;
    const first = Array.isArray(listen)
      ? listen.find((a) => typeof a === "string" && a.includes("/tcp/"))
      : null;
    return typeof first === "string" ? `${first}/p2p/${node.peerId}` : null;
  } catch {
    return null;
  }
}

/** What a node started by hand needs to join the testnet, as `smartmarket node start` flags. */
export function joinLine(state: TestnetState): {
  bootstrap: string[];
  rpcUrl: string;
  contract: Hex;
  markets: Hex[];
  command: string;
} {
  const alive = state.nodes.filter((n) => pidAlive(n.pid));
  const bootstrap = (alive.length > 0 ? alive : state.nodes)
    .slice(0, 2)
    .map(bootstrapOf)
    .filter((b): b is string => b !== null);
  const markets = state.markets.map((m) => m.id);
  const command = [
    "smartmarket node start --data-dir DIR",
    `--rpc-url ${state.rpcUrl}`,
    `--contract ${state.contract}`,
    ...markets.map((m) => `--market ${m}`),
    ...bootstrap.map((b) => `--bootstrap ${b}`),
    "--no-mdns --api-port 0",
  ].join(" ");
  return { bootstrap, rpcUrl: state.rpcUrl, contract: state.contract, markets, command };
}

/** The join settings as POSIX shell `export` lines (the values hold no character a shell would expand). */
export function joinEnv(join: ReturnType<typeof joinLine>): string {
  const lines = [
    `export SMARTMARKET_RPC_URL=${join.rpcUrl}`,
    `export SMARTMARKET_CONTRACT=${join.contract}`,
    `export SMARTMARKET_MARKET=${join.markets.join(",")}`,
    `export SMARTMARKET_BOOTSTRAP=${join.bootstrap.join(",")}`,
    "export SMARTMARKET_MDNS=false",
  ];
  for (const l of lines) {
    if (!/^export [A-Z_]+=[A-Za-z0-9_:/.,=-]*$/.test(l)) throw new Error(`not a safe shell line: ${l}`);
  }
  return `${lines.join("\n")}\n`;
}

/** An amount in a token's display units (decimal string, no float) as raw units; bad input exits 2. */
function displayAmount(text: string, decimals: number, flag: string): bigint {
  try {
    return parseUnits(text, decimals, flag);
  } catch (err) {
    throw new CliError(`${(err as Error).message} (${decimals} decimals)`);
  }
}

export const testnetFundCommand: CliCommand = {
  name: "testnet fund",
  summary: "give an address gas and test tokens (energy, dollars) on the local testnet's chain",
  usage: "<address> [--energy X] [--usd Y] [--eth E] [--market NAME] [--dir DIR] [--json]",
  help: `  --energy X     base tokens of the market to mint, display units (default 100)
  --usd Y        quote tokens of the market to mint, display units (default 1000)
  --eth E        ether added to the address's balance for gas (default 1)
  --market NAME  which market's tokens (default the testnet's first market)
  --dir DIR      the running testnet's folder (default ${DEFAULT_DIR})
  --json         one JSON object
The testnet's chain is a dev chain: gas comes from anvil_setBalance (or a transfer from its first dev
account), tokens are minted by its first dev account.`,
  options: {
    energy: { type: "string" },
    usd: { type: "string" },
    eth: { type: "string" },
    market: { type: "string" },
    dir: { type: "string" },
    json: { type: "boolean" },
  },
  maxPositionals: 1,
  handler: async (args, io) => {
    const to = args.positionals[0];
    if (to === undefined) throw new CliError("missing <address> (0x followed by 40 hex digits)");
    if (!isHex(to, 20)) throw new CliError(`<address> "${to}" must be 0x followed by 40 hex digits`);
    const address = to.toLowerCase() as Hex;
    const dir = resolve((args.values.dir as string | undefined) ?? DEFAULT_DIR);
    const state = readState(dir);
    if (!state) throw new CliError(`no testnet in ${dir} (start one with \`npm start\`)`, ExitCode.FAILURE);
    const name = args.values.market as string | undefined;
    const market =
      name === undefined ? state.markets[0] : state.markets.find((m) => m.name === name || m.id === name);
    if (!market)
      throw new CliError(
        `no market "${name}" in the testnet; its markets: ${state.markets.map((m) => m.name).join(", ")}`,
      );
    const ethWei = displayAmount((args.values.eth as string | undefined) ?? "1", 18, "--eth");
    const chainId = await probeRpc(state.rpcUrl);
    const provider = new HttpJsonRpcProvider(state.rpcUrl, chainId, {
      staticNetwork: true,
      cacheTimeout: -1,
    });
    try {
      const [base, quote] = await Promise.all([
        tokenInfo(provider, market.base),
        tokenInfo(provider, market.quote),
      ]);
      const baseAmount = displayAmount(
        (args.values.energy as string | undefined) ?? "100",
        base.decimals ?? 0,
        "--energy",
      );
      const quoteAmount = displayAmount(
        (args.values.usd as string | undefined) ?? "1000",
        quote.decimals ?? 0,
        "--usd",
      );
      const r = await fundOnDevChain(provider, address, {
        ethWei,
        mints: [
          { token: market.base, amount: baseAmount },
          { token: market.quote, amount: quoteAmount },
        ],
      });
      const [baseBalance, quoteBalance] = await Promise.all([
        tokenBalanceOf(provider, market.base, address),
        tokenBalanceOf(provider, market.quote, address),
      ]);
      const fmt = (v: bigint, t: typeof base) =>
        t.decimals === null ? v.toString() : formatUnits(v, t.decimals);
      if (args.values.json) {
        io.stdout.write(
          `${JSON.stringify({ address, market: market.id, devAccount: r.devAccount, gas: r.gas, balanceWei: r.balanceWei.toString(), base: { token: market.base, minted: baseAmount.toString(), balance: baseBalance.toString() }, quote: { token: market.quote, minted: quoteAmount.toString(), balance: quoteBalance.toString() }, mintTxs: r.mintTxs })}\n`,
        );
      } else {
        io.stdout.write(
          `funded ${address} on ${state.rpcUrl} (market ${market.name})\n` +
            `  gas    ${formatEther(r.balanceWei)} ETH (${r.gas === "none" ? "unchanged" : `via ${r.gas}`})\n` +
            `  base   ${fmt(baseBalance, base)} ${base.symbol ?? ""} (minted ${fmt(baseAmount, base)})\n` +
            `  quote  ${fmt(quoteBalance, quote)} ${quote.symbol ?? ""} (minted ${fmt(quoteAmount, quote)})\n` +
            `Deposit into the escrow next: smartmarket deposit quote AMOUNT --market ${market.id}\n`,
        );
      }
      return ExitCode.OK;
    } catch (err) {
      throw chainFailure(err);
    } finally {
      provider.destroy();
    }
  },
};
