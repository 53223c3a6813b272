// Client commands that read a running node: status, peers, peer, epochs, epoch.
import { parseUint } from "../../../protocol/amount.ts";
import type {
  EpochDetail,
  EpochSummary,
  MarketStatus,
  NodeStatus,
  PeerDetail,
  PeerView,
} from "../../api/types.ts";
import {
  apiFromArgs,
  CLIENT_HELP,
  CLIENT_OPTIONS,
  call,
  MARKET_HELP,
  MARKET_OPTION,
  resolveMarket,
} from "../api-client.ts";
import { type CliCommand, CliError, type CliIo, ExitCode, type ParsedArgs } from "../command.ts";
import { renderTable, short } from "../table.ts";

function out(io: CliIo, args: ParsedArgs, value: unknown, table: () => string): number {
  io.stdout.write(args.values.json ? `${JSON.stringify(value, null, 2)}\n` : table());
  return ExitCode.OK;
}

const s = (v: unknown) => (v === null || v === undefined ? "-" : String(v));

function marketLines(m: MarketStatus): string[] {
  return [
    `market         ${m.id}`,
    `               base ${m.base}  quote ${m.quote}  epoch ${m.epochLengthS} s  fee ${m.feeBps} bps`,
    `               epoch ${m.epoch.current} (${m.epoch.phase}, ${m.epoch.orders} orders, ends in ${(m.epoch.endsInMs / 1000).toFixed(1)} s), ${m.peers} peer(s), last settled ${s(m.lastSettledEpoch)}`,
  ];
}

export const statusCommand: CliCommand = {
  name: "status",
  summary: "show the node: identity, markets and their current epochs, peers",
  usage: "[--json] [connection options]",
  help: CLIENT_HELP,
  options: CLIENT_OPTIONS,
  handler: async (args, io) => {
    const st: NodeStatus = await call(apiFromArgs(args, io.env).status());
    return out(io, args, st, () =>
      [
        `peer id        ${s(st.peerId)}`,
        `wallet         ${s(st.wallet)}`,
        `chain          ${s(st.chainId)}  contract ${s(st.contract)}`,
        ...(st.markets.length === 0 ? ["market         none (join one: smartmarket market join <id>)"] : []),
        ...st.markets.flatMap(marketLines),
        `peers          ${s(st.peers)}`,
        `listening on   ${st.addresses.join(", ")}`,
        `version        ${s(st.version)}, up ${s(st.uptimeS)} s`,
        "",
      ].join("\n"),
    );
  },
};

/** "orders:0x12ab…" → "orders:0x12ab" (the market's first bytes suffice on a terminal). */
function shortTopic(label: string): string {
  const [kind, market] = label.split(":");
  return market ? `${kind}:${market.slice(0, 10)}` : label;
}

function peerRows(peers: readonly PeerView[]): string[][] {
  return peers.map((p) => [
    s(p.peerId),
    p.addresses.join(","),
    s(p.direction),
    p.latencyMs === null ? "-" : `${p.latencyMs} ms`,
    p.protocols.length.toString(),
    s(p.gossipScore),
    p.topics.map(shortTopic).join(","),
  ]);
}

export const peersCommand: CliCommand = {
  name: "peers",
  summary: "list connected peers: id, addresses, direction, latency, protocols, gossip score, topics",
  usage: "[--json] [connection options]",
  help: CLIENT_HELP,
  options: CLIENT_OPTIONS,
  handler: async (args, io) => {
    const peers = await call(apiFromArgs(args, io.env).peers());
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
    const p: PeerDetail = await call(apiFromArgs(args, io.env).peer(id));
    return out(io, args, p, () =>
      [
        `peer id     ${s(p.peerId)}`,
        `addresses   ${p.addresses.join(", ")}`,
        `direction   ${s(p.direction)}`,
        `ping        ${p.pingMs === null ? "-" : `${p.pingMs} ms`}`,
        `score       ${s(p.gossipScore)}`,
        "topics",
        ...p.topics.map((x) => `  ${x}`),
        "protocols",
        ...p.protocols.map((x) => `  ${x}`),
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
  usage: "[--market ID] [--last N] [--json] [connection options]",
  help: `${MARKET_HELP}\n  --last N         how many epochs (default 20)\n${CLIENT_HELP}`,
  options: { ...CLIENT_OPTIONS, ...MARKET_OPTION, last: { type: "string" } },
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
    const client = apiFromArgs(args, io.env);
    const epochs: EpochSummary[] = await call(client.epochs(await resolveMarket(client, args), Number(last)));
    return out(io, args, epochs, () =>
      renderTable(
        ["EPOCH", "PHASE", "ORDERS", "PRICE", "VOLUME", "RESULT", "SETTLED TX", "GAS", "AGREED"],
        epochs.map((e) => {
          const st = e.settlement;
          return [
            s(e.epoch),
            s(e.phase),
            s(e.orders),
            s(e.price),
            s(e.volume),
            short(e.resultHash),
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
  usage: "<n> [--market ID] [--json] [connection options]",
  help: `${MARKET_HELP}\n${CLIENT_HELP}`,
  options: { ...CLIENT_OPTIONS, ...MARKET_OPTION },
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
    const client = apiFromArgs(args, io.env);
    const e: EpochDetail = await call(client.epoch(await resolveMarket(client, args), n));
    return out(io, args, e, () => {
      const st = e.settlement;
      const fills = new Map((e.result?.fills ?? []).map((f) => [f.id as string, f.quantity]));
      const orders = e.orderList ?? [];
      const lines = [
        `market        ${e.market}`,
        `epoch         ${s(e.epoch)} (${s(e.phase)})${e.reason ? `: ${e.reason}` : ""}`,
        `orders        ${s(e.orders)} (covered ${s(e.covered)})`,
        `fingerprint   ${s(e.fingerprint)}`,
        `result hash   ${s(e.resultHash)}`,
        `price         ${s(e.price)}`,
        `volume        ${s(e.volume)}`,
        `welfare       ${s(e.welfare)}`,
        `settlement    ${st ? `${st.final ? "final" : "standing (can be challenged)"}: ${s(st.tx)} by ${s(st.submitter)}${st.bySelf || st.challengedBySelf ? " (this node)" : ""}, gas ${s(st.gasUsed)}${st.challenges > 0 ? `, after ${st.challenges} challenge(s)` : ""}` : "-"}`,
        `agreed        ${agreedText(e.agreed)}${st && e.agreed === false ? ` (chain result ${s(st.resultHash)})` : ""}`,
        "",
      ];
      if (orders.length > 0) {
        lines.push(
          renderTable(
            ["ID", "SIDE", "QUANTITY", "LIMIT", "TRADER", "SOURCE", "FILL"],
            orders.map((o) => [
              short(o.id, 10),
              s(o.side),
              s(o.quantity),
              s(o.limitPrice),
              short(o.trader),
              s(o.source),
              fills.get(o.id) ?? "0",
            ]),
          ),
        );
      }
      return lines.join("\n");
    });
  },
};
