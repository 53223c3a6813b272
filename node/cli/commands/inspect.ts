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
import { type AmountFormat, amountFormat } from "../../api/units.ts";
import { PEER_SKEW_WARN_MS } from "../../constants.ts";
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
import { exclusionReason, formatFor, RAW_HELP, RAW_OPTION } from "./orders.ts";

function out(io: CliIo, args: ParsedArgs, value: unknown, table: () => string): number {
  io.stdout.write(args.values.json ? `${JSON.stringify(value, null, 2)}\n` : table());
  return ExitCode.OK;
}

const s = (v: unknown) => (v === null || v === undefined ? "-" : String(v));

function tokenText(meta: { symbol: string; decimals: number } | null | undefined, raw: boolean): string {
  return meta && !raw ? ` (${meta.symbol}, ${meta.decimals} decimals)` : "";
}

function marketLines(m: MarketStatus, raw: boolean): string[] {
  return [
    `market         ${m.id}`,
    `               base ${m.base}${tokenText(m.tokens?.base, raw)}  quote ${m.quote}${tokenText(m.tokens?.quote, raw)}  epoch ${m.epochLengthS} s  fee ${m.feeBps} bps  min order ${amountFormat(m.tokens, raw).base(BigInt(m.minQuantity))}`,
    `               epoch ${m.epoch.current} (${m.epoch.phase}, ${m.epoch.orders} orders, ends in ${(m.epoch.endsInMs / 1000).toFixed(1)} s), ${m.peers} peer(s), last settled ${s(m.lastSettledEpoch)}`,
  ];
}

/** The clock line: the skew against the chain's time, and a warning when it is off. */
function clockLines(st: NodeStatus): string[] {
  const c = st.clock;
  const lines: string[] = [];
  if (c?.skewMs) {
    const skew = `chain − host ${c.skewMs.low}..${c.skewMs.high} ms, corrected by ${c.correctionMs} ms`;
    lines.push(`clock          ${skew}`, ...(c.warning ? [`               WARNING ${c.warning}`] : []));
  }
  const p = st.peerClock;
  if (p && p.aheadOfPeersMs !== null) {
    const sign = p.aheadOfPeersMs >= 0 ? "+" : "";
    lines.push(`peer clocks    ${sign}${p.aheadOfPeersMs} ms against the median of ${p.peers} peer(s)`);
    if (p.peers >= 2 && Math.abs(p.aheadOfPeersMs) > PEER_SKEW_WARN_MS)
      lines.push(
        `               WARNING this node's clock is off from its peers' by ${sign}${p.aheadOfPeersMs} ms`,
      );
    for (const s of p.skewedPeers)
      lines.push(
        `               WARNING peer ${short(s.peer, 12)} is ${s.aheadMs >= 0 ? "+" : ""}${s.aheadMs} ms off the others`,
      );
  }
  return lines;
}

export const statusCommand: CliCommand = {
  name: "status",
  summary: "show the node: identity, markets and their current epochs, peers",
  usage: "[--raw] [--json] [connection options]",
  help: `${RAW_HELP}\n${CLIENT_HELP}`,
  options: { ...CLIENT_OPTIONS, ...RAW_OPTION },
  handler: async (args, io) => {
    const st: NodeStatus = await call(apiFromArgs(args, io.env).status());
    return out(io, args, st, () =>
      [
        `peer id        ${s(st.peerId)}`,
        `wallet         ${s(st.wallet)}`,
        `chain          ${s(st.chainId)}  contract ${s(st.contract)}`,
        ...(st.markets.length === 0 ? ["market         none (join one: smartmarket market join <id>)"] : []),
        ...st.markets.flatMap((m) => marketLines(m, args.values.raw === true)),
        `peers          ${s(st.peers)}`,
        `listening on   ${st.addresses.join(", ")}`,
        `version        ${s(st.version)}, up ${s(st.uptimeS)} s`,
        ...clockLines(st),
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

function amountOrDash(v: string | null | undefined, f: AmountFormat["base"]): string {
  return v === null || v === undefined ? "-" : f(v);
}

function agreedText(v: unknown): string {
  return v === true ? "yes" : v === false ? "NO" : "-";
}

export const epochsCommand: CliCommand = {
  name: "epochs",
  summary: "list recent epochs: orders, price, volume, settlement, agreement",
  usage: "[--market ID] [--last N] [--raw] [--json] [connection options]",
  help: `${MARKET_HELP}\n  --last N         how many epochs (default 20)\n${RAW_HELP}\n${CLIENT_HELP}`,
  options: { ...CLIENT_OPTIONS, ...MARKET_OPTION, ...RAW_OPTION, last: { type: "string" } },
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
    const market = await resolveMarket(client, args);
    const epochs: EpochSummary[] = await call(client.epochs(market, Number(last)));
    const fmt = args.values.json ? amountFormat(undefined, true) : await formatFor(client, market, args);
    return out(io, args, epochs, () =>
      renderTable(
        ["EPOCH", "PHASE", "ORDERS", "PRICE", "VOLUME", "RESULT", "SETTLED TX", "GAS", "AGREED"],
        epochs.map((e) => {
          const st = e.settlement;
          return [
            s(e.epoch),
            s(e.phase),
            s(e.orders),
            amountOrDash(e.price, fmt.price),
            amountOrDash(e.volume, fmt.base),
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
  usage: "<n> [--market ID] [--raw] [--json] [connection options]",
  help: `${MARKET_HELP}\n${RAW_HELP}\n${CLIENT_HELP}`,
  options: { ...CLIENT_OPTIONS, ...MARKET_OPTION, ...RAW_OPTION },
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
    const market = await resolveMarket(client, args);
    const e: EpochDetail = await call(client.epoch(market, n));
    const fmt = args.values.json ? amountFormat(undefined, true) : await formatFor(client, market, args);
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
        `price         ${amountOrDash(e.price, fmt.price)}`,
        `volume        ${amountOrDash(e.volume, fmt.base)}`,
        `welfare       ${amountOrDash(e.welfare, fmt.quote)}`,
        `settlement    ${st ? `${st.final ? "final" : "standing (can be challenged)"}: ${s(st.tx)} by ${s(st.submitter)}${st.bySelf || st.challengedBySelf ? " (this node)" : ""}, gas ${s(st.gasUsed)}${st.challenges > 0 ? `, after ${st.challenges} challenge(s)` : ""}` : "-"}`,
        `agreed        ${agreedText(e.agreed)}${st && e.agreed === false ? ` (chain result ${s(st.resultHash)})` : ""}`,
        "",
      ];
      const excluded = new Map((e.excluded ?? []).map((x) => [x.id as string, x]));
      if (orders.length > 0) {
        lines.push(
          renderTable(
            ["ID", "SIDE", "QUANTITY", "LIMIT", "TRADER", "SOURCE", "FILL"],
            orders.map((o) => [
              short(o.id, 10),
              s(o.side),
              fmt.base(o.quantity),
              fmt.price(o.limitPrice),
              short(o.trader),
              s(o.source),
              excluded.has(o.id) ? "excluded" : fmt.base(fills.get(o.id) ?? "0"),
            ]),
          ),
        );
      }
      if (excluded.size > 0) {
        lines.push(
          `left out of clearing (${excluded.size}): not covered by escrow, over a trader's cap, or outranked by the side cap`,
          renderTable(
            ["ID", "TRADER", "SIDE", "REASON"],
            [...excluded.values()].map((x) => [
              short(x.id, 10),
              short(x.trader),
              x.side,
              exclusionReason(x, fmt),
            ]),
          ),
        );
      }
      return lines.join("\n");
    });
  },
};
