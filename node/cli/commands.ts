// The registry of CLI commands. Each command lives in its own module under ./commands/.
import type { CliCommand } from "./command.ts";
import { clearCommand } from "./commands/clear.ts";
import { epochCommand, epochsCommand, peerCommand, peersCommand, statusCommand } from "./commands/inspect.ts";
import { keysNewCommand } from "./commands/keys.ts";
import { marketJoinCommand, marketLeaveCommand } from "./commands/market.ts";
import { nodeStartCommand } from "./commands/node-start.ts";
import { orderCommand } from "./commands/order.ts";

/** The commands of a node (the testnet adds its own on top: testnet/cli.ts). */
export const NODE_COMMANDS: readonly CliCommand[] = [
  keysNewCommand,
  nodeStartCommand,
  statusCommand,
  peersCommand,
  peerCommand,
  orderCommand,
  marketJoinCommand,
  marketLeaveCommand,
  epochsCommand,
  epochCommand,
  clearCommand,
];
