// `smartmarket deploy --rpc-url URL [--test-tokens]`: deploys the settlement contract (and two mintable
// TestTokens) to any EVM JSON-RPC endpoint with the node's key, and prints what a node needs.
import type { Hex } from "../../../protocol/hex.ts";
import { ENERGY_TEST_TOKENS } from "../../../settlement/test-tokens.ts";
import { CHAIN_HELP, CHAIN_OPTIONS, openChain, withChain } from "../chain-context.ts";
import { type CliCommand, ExitCode } from "../command.ts";

/** The TestTokens `--test-tokens` deploys (as the local testnet's first market). */
export const TEST_TOKENS = ENERGY_TEST_TOKENS;

export const deployCommand: CliCommand = {
  name: "deploy",
  summary: "deploy the settlement contract (and two test tokens) to an EVM chain with the node's key",
  usage: "--rpc-url URL [--test-tokens] [--json] [chain options]",
  help: `  --rpc-url URL         the chain's JSON-RPC endpoint (default: the node's setting)
  --test-tokens         also deploy two TestTokens (kWh, 3 decimals; USD, 6 decimals) that anyone can
                        mint: for test chains only
  --json                one JSON object: chainId, contract, deployer, baseToken, quoteToken
The node's wallet pays the gas: fund it first (\`smartmarket keys show\` prints its address).
${CHAIN_HELP}`,
  options: { ...CHAIN_OPTIONS, "test-tokens": { type: "boolean" }, json: { type: "boolean" } },
  handler: async (args, io) => {
    const ctx = await openChain(args, io.env, { key: "sign", contract: false });
    return withChain(ctx, async ({ client, address, chainId }) => {
      let tokens: { base: Hex; quote: Hex } | null = null;
      let contract: Hex;
      if (args.values["test-tokens"] === true) {
        const d = await client.deployContracts(TEST_TOKENS);
        contract = d.settlement;
        tokens = { base: d.base, quote: d.quote };
      } else contract = await client.deploySettlement();
      const rpcUrl = ctx.settings.rpcUrl!;
      if (args.values.json) {
        io.stdout.write(
          `${JSON.stringify({ chainId: chainId.toString(), rpcUrl, contract, deployer: address, baseToken: tokens?.base ?? null, quoteToken: tokens?.quote ?? null })}\n`,
        );
        return ExitCode.OK;
      }
      const lines = [
        `settlement contract ${contract}`,
        `chain id            ${chainId}`,
        `deployer            ${address}`,
        ...(tokens
          ? [
              `base token          ${tokens.base} (${TEST_TOKENS.base.symbol}, ${TEST_TOKENS.base.decimals} decimals)`,
              `quote token         ${tokens.quote} (${TEST_TOKENS.quote.symbol}, ${TEST_TOKENS.quote.decimals} decimals)`,
            ]
          : []),
        "",
        "Next:",
        ...(tokens
          ? [
              `  smartmarket market create --rpc-url ${rpcUrl} --contract ${contract} --base ${tokens.base} --quote ${tokens.quote} --epoch-seconds 10`,
            ]
          : [
              `  smartmarket market create --rpc-url ${rpcUrl} --contract ${contract} --base TOKEN --quote TOKEN --epoch-seconds 10`,
            ]),
        `  smartmarket node start --rpc-url ${rpcUrl} --contract ${contract} --market <id printed by market create>`,
      ];
      io.stdout.write(`${lines.join("\n")}\n`);
      return ExitCode.OK;
    });
  },
};
