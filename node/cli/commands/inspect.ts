// Client commands that read a running node: status, peers, peer, epochs, epoch.
import { parseUint } from "../../../protocol/amount.ts";
import { ApiClient, CLIENT_HELP, CLIENT_OPTIONS } from "../api-client.ts";
import { type CliCommand, CliError, type CliIo, ExitCode, type ParsedArgs } from "../command.ts";
import { renderTable, short } from "../table.ts";

type Json = Record<string, unknown>;

function out(io: CliIo, args: ParsedArgs, value: unknown, table: () => string): number {
  io.stdout.write(args.values.json ? `${JSON.stringify(value, null, 2)}\n` : table());
  return ExitCode.OK;
}

const s = (v: unknown) => (v === null || v === undefined ? "-" : String(v));

export const statusCommand: CliCommand = {
  name: "status",
  summary: "show the node: identity, market, current epoch, peers",
  usage: "[--json] [connection options]",
  help: CLIENT_HELP,
  options: CLIENT_OPTIONS,
  handler: async (args, io) => {
    const st = await ApiClient.fromArgs(args, io.env).get<Json>("/status");
    const market = st.market as Json;
    const epoch = st.epoch as Json;
    return out(io, args, st, () =>
      [
        `peer id        ${s(st.peerId)}`,
        `wallet         ${s(st.wallet)}`,
        `chain          ${s(st.chainId)}  contract ${s(st.contract)}`,
        `market         ${s(market.id)}`,
        `               base ${s(market.base)}  quote ${s(market.quote)}  epoch ${s(market.epochLengthS)} s  fee ${s(market.feeBps)} bps`,
        `epoch          ${s(epoch.current)} (${s(epoch.phase)}, ${s(epoch.orders)} orders, ends in ${(Number(epoch.endsInMs) / 1000).toFixed(1)} s)`,
        `peers          ${s(st.peers)}`,
        `last settled   ${s(st.lastSettledEpoch)}`,
        `listening on   ${((st.addresses as string[]) ?? []).join(", ")}`,
        `version        ${s(st.version)}, up ${s(st.uptimeS)} s`,
        "",
      ].join("\n"),
    );
  },
};

function peerRows(peers: Json[]): string[][] {
  return peers.map((p) => [
    s(p.peerId),
    ((p.addresses as string[]) ?? []).join(","),
    s(p.direction),
    p.latencyMs === null ? "-" : `${p.latencyMs} ms`,
    ((p.protocols as string[]) ?? []).length.toString(),
    s(p.gossipScore),
    ((p.topics as string[]) ?? []).join(","),
  ]);
}

export const peersCommand: CliCommand = {
  name: "peers",
  summary: "list connected peers: id, addresses, direction, latency, protocols, gossip score, topics",
  usage: "[--json] [connection options]",
  help: CLIENT_HELP,
  options: CLIENT_OPTIONS,
  handler: async (args, io) => {
    const peers = await ApiClient.fromArgs(args, io.env).get<Json[]>("/peers");
    return out(io, args, peers, () =>
      peers.length === 0
        ? "no peers connected\n"
        : renderTable(
            ["PEER ID", "ADDRESSES", "DIR", "LATENCY", "PROTOCOLS", "SCORE", "TOPICS"],
            peerRows(peers),
          ),
    );
  },
};

export const peerCommand: CliCommand = {
  name: "peer",
  summary: "show one connected peer in detail (pings it)",
  usage: "<peer-id> [--json] [connection options]",
  help: CLIENT_HELP,
  options: CLIENT_OPTIONS,
  maxPositionals: 1,
  handler: async (args, io) => {
    const id = args.positionals[0];
    if (!id) throw new CliError("missing <peer-id>; list them with `smartmarket peers`");
    const p = await ApiClient.fromArgs(args, io.env).get<Json>(`/peers/${encodeURIComponent(id)}`);
    return out(io, args, p, () =>
      [
        `peer id     ${s(p.peerId)}`,
        `addresses   ${((p.addresses as string[]) ?? []).join(", ")}`,
        `direction   ${s(p.direction)}`,
        `ping        ${p.pingMs === null ? "-" : `${p.pingMs} ms`}`,
        `score       ${s(p.gossipScore)}`,
        `topics      ${((p.topics as string[]) ?? []).join(", ")}`,
        "protocols",
        ...((p.protocols as string[]) ?? []).map((x) => `  ${x}`),
        "",
      ].join("\n"),
    );
  },
};

function agreedText(v: unknown): string {
  return v === true ? "yes" : v === false ? "NO" : "-";
}

export const epochsCommand: CliCommand = {
  name: "epochs",
  summary: "list recent epochs: orders, price, volume, settlement, agreement",
  usage: "[--last N] [--json] [connection options]",
  help: `  --last N   how many epochs (default 20)\n${CLIENT_HELP}`,
  options: { ...CLIENT_OPTIONS, last: { type: "string" } },
  handler: async (args, io) => {
    let last = 20n;
    if (args.values.last !== undefined) {
      try {
        last = parseUint(args.values.last as string, "--last");
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      if (last === 0n || last > 1000n) throw new CliError("--last must be between 1 and 1000");
    }
    const epochs = await ApiClient.fromArgs(args, io.env).get<Json[]>(`/epochs?last=${last}`);
    return out(io, args, epochs, () =>
      renderTable(
        ["EPOCH", "PHASE", "ORDERS", "PRICE", "VOLUME", "RESULT", "SETTLED TX", "GAS", "AGREED"],
        epochs.map((e) => {
          const st = e.settlement as Json | null;
          return [
            s(e.epoch),
            s(e.phase),
            s(e.orders),
            s(e.price),
            s(e.volume),
            short(e.resultHash as string | null),
            short(st?.tx as string | undefined),
            s(st?.gasUsed),
            agreedText(e.agreed),
          ];
        }),
      ),
    );
  },
};

export const epochCommand: CliCommand = {
  name: "epoch",
  summary: "show one epoch: orders, fingerprint, result, settlement tx, agreement",
  usage: "<n> [--json] [connection options]",
  help: CLIENT_HELP,
  options: CLIENT_OPTIONS,
  maxPositionals: 1,
  handler: async (args, io) => {
    const raw = args.positionals[0];
    if (raw === undefined) throw new CliError("missing epoch number <n>");
    let n: bigint;
    try {
      n = parseUint(raw, "epoch");
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    const e = await ApiClient.fromArgs(args, io.env).get<Json>(`/epochs/${n}`);
    return out(io, args, e, () => {
      const st = e.settlement as Json | null;
      const result = e.result as Json | null;
      const fills = new Map(
        ((result?.fills as Json[]) ?? []).map((f) => [f.id as string, f.quantity as string]),
      );
      const orders = (e.orderList as Json[]) ?? [];
      const lines = [
        `epoch         ${s(e.epoch)} (${s(e.phase)})`,
        `orders        ${s(e.orders)} (covered ${s(e.covered)})`,
        `fingerprint   ${s(e.fingerprint)}`,
        `result hash   ${s(e.resultHash)}`,
        `price         ${s(e.price)}`,
        `volume        ${s(e.volume)}`,
        `welfare       ${s(e.welfare)}`,
        `settlement    ${st ? `${s(st.tx)} by ${s(st.submitter)}${st.bySelf ? " (this node)" : ""}, gas ${s(st.gasUsed)}` : "-"}`,
        `agreed        ${agreedText(e.agreed)}${st && e.agreed === false ? ` (chain result ${s(st.resultHash)})` : ""}`,
        "",
      ];
      if (orders.length > 0) {
        lines.push(
          renderTable(
            ["ID", "SIDE", "QUANTITY", "LIMIT", "TRADER", "SOURCE", "FILL"],
            orders.map((o) => [
              short(o.id as string, 10),
              s(o.side),
              s(o.quantity),
              s(o.limitPrice),
              short(o.trader as string),
              s(o.source),
              fills.get(o.id as string) ?? "0",
            ]),
          ),
        );
      }
      return lines.join("\n");
    });
  },
};
