// `smartmarket order --file F`: orders signed elsewhere (a gateway's devices, a fleet), sent in batches of
// up to 256 per request (POST /markets/:id/orders with a JSON array). F holds a JSON array of signed
// orders in the protocol's JSON form, or one such order per line; "-" reads stdin. Each order has its own
// fate: the command prints one line per order and exits 1 if any was refused.

import type { OrderJson } from "../../../protocol/order.ts";
import type { ApiClient } from "../../api/client.ts";
import type { SubmitBatchResponse } from "../../api/types.ts";
import { MAX_ORDERS_PER_SUBMISSION } from "../../constants.ts";
import { call } from "../api-client.ts";
import { CliError, type CliIo, ExitCode, readTextInput } from "../command.ts";

/** Parses the file's orders: a JSON array, or JSON lines (blank lines skipped). Throws CliError. */
export function parseOrderFile(text: string, file: string): OrderJson[] {
  const trimmed = text.trim();
  if (trimmed === "") throw new CliError(`${file} holds no orders`);
  let items: unknown[];
  if (trimmed.startsWith("[")) {
    try {
      items = JSON.parse(trimmed) as unknown[];
    } catch (err) {
      throw new CliError(`${file} is not valid JSON: ${(err as Error).message}`);
    }
  } else {
    items = [];
    const lines = trimmed.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === "") continue;
      try {
        items.push(JSON.parse(line));
      } catch (err) {
        throw new CliError(`${file}, line ${i + 1}: not valid JSON: ${(err as Error).message}`);
      }
    }
  }
  items.forEach((item, i) => {
    if (typeof item !== "object" || item === null || Array.isArray(item) || !("signature" in item))
      throw new CliError(`${file}: order ${i + 1} is not a signed order (an object with a "signature")`);
  });
  if (items.length === 0) throw new CliError(`${file} holds no orders`);
  return items as OrderJson[];
}

/** Reads and parses the orders of `file` ("-": stdin); a bad file is a CliError (exit 2), before any network. */
export async function readOrderFile(file: string, io: CliIo): Promise<OrderJson[]> {
  return parseOrderFile(await readTextInput(file, io.stdin), file);
}

/** Sends orders in batches; prints each order's fate; 0 if all were accepted, else 1. */
export async function sendOrders(
  client: ApiClient,
  market: `0x${string}`,
  orders: readonly OrderJson[],
  io: CliIo,
  json: boolean,
): Promise<number> {
  const results: SubmitBatchResponse["results"][number][] = [];
  for (let i = 0; i < orders.length; i += MAX_ORDERS_PER_SUBMISSION) {
    const res = await call(client.submitOrders(market, orders.slice(i, i + MAX_ORDERS_PER_SUBMISSION)));
    results.push(...res.results);
  }
  const accepted = results.filter((r) => r.status === "accepted").length;
  if (json) {
    io.stdout.write(
      `${JSON.stringify({ accepted, refused: results.length - accepted, results }, null, 2)}\n`,
    );
  } else {
    results.forEach((r, i) => {
      io.stdout.write(
        r.status === "accepted"
          ? `order ${i + 1}: accepted ${r.id}, sent to ${r.recipients} peer(s)\n`
          : `order ${i + 1}: refused ${r.code}${r.detail ? `: ${r.detail}` : ""}\n`,
      );
    });
    io.stdout.write(`${accepted} of ${results.length} orders accepted\n`);
  }
  return accepted === results.length ? ExitCode.OK : ExitCode.FAILURE;
}
