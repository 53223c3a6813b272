// The registry of CLI commands. Each command lives in its own module under ./commands/.
import type { CliCommand } from "./command.ts";
import { clearCommand } from "./commands/clear.ts";
import { deployCommand } from "./commands/deploy.ts";
import { depositCommand, withdrawCommand, withdrawRequestCommand } from "./commands/escrow.ts";
import { fillsCommand } from "./commands/fills.ts";
import { epochCommand, epochsCommand, peerCommand, peersCommand, statusCommand } from "./commands/inspect.ts";
import { keysExportCommand, keysImportCommand, keysNewCommand, keysShowCommand } from "./commands/keys.ts";
import {
  marketCreateCommand,
  marketJoinCommand,
  marketLeaveCommand,
  marketListCommand,
  marketShowCommand,
} from "./commands/market.ts";
import { nodeStartCommand } from "./commands/node-start.ts";
import { orderCommand } from "./commands/order.ts";
import { ordersCommand } from "./commands/orders.ts";
import { walletCommand } from "./commands/wallet.ts";

/** The commands of a node (the testnet adds its own on top: testnet/cli.ts). */
export const NODE_COMMANDS: readonly CliCommand[] = [
  keysNewCommand,
  keysImportCommand,
  keysShowCommand,
  keysExportCommand,
  deployCommand,
  nodeStartCommand,
  walletCommand,
  depositCommand,
  withdrawRequestCommand,
  withdrawCommand,
  statusCommand,
  peersCommand,
  peerCommand,
  orderCommand,
  ordersCommand,
  fillsCommand,
  marketCreateCommand,
  marketListCommand,
  marketShowCommand,
  marketJoinCommand,
  marketLeaveCommand,
  epochsCommand,
  epochCommand,
  clearCommand,
];
