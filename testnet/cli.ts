// `smartmarket testnet up|status|down`, and the complete command set of the CLI.
import { readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { ApiClient } from "../node/api/client.ts";
import type { NodeStatus } from "../node/api/types.ts";
import { type CliCommand, CliError, ExitCode } from "../node/cli/command.ts";
import { NODE_COMMANDS } from "../node/cli/commands.ts";
import { renderTable } from "../node/cli/table.ts";
import { parseUint } from "../protocol/amount.ts";
import { ADVERSARY_MODES, isAdversaryMode } from "./adversary/files.ts";
import { runAdversaryProcess } from "./adversary/main.ts";
import { COPY_BLOCK_TIME_S, COPY_CHALLENGE_WINDOW_S, COPY_MIN_EPOCH_S } from "./adversary/timing.ts";
import { DEFAULT_DIR, joinEnv, joinLine, testnetFundCommand } from "./join.ts";
import { pidAlive, readState, stateFile, Testnet } from "./network.ts";
import { writeReport } from "./report.ts";
import { describeAdversary } from "./report-words.ts";
import { DEFAULT_SCENARIO, TESTNET_SCENARIOS } from "./scenarios.ts";
import { runSucceeded, summarizeReport } from "./summary.ts";
import type { AdversaryMode, TestnetReport } from "./types.ts";
import { LiveView } from "./view.ts";

const DEFAULT_NODES = 5;
const DEFAULT_EPOCH_SECONDS = 5;

function wholeNumber(value: unknown, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  let n: bigint;
  try {
    n = parseUint(String(value), flag);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  if (n < BigInt(min) || n > BigInt(max)) throw new CliError(`${flag} must be between ${min} and ${max}`);
  return Number(n);
}

/** `text` broken into lines of at most `width` characters, continuation lines indented by `indent`. */
function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.join(`\n${indent}`);
}

/** One epoch in the JSON summary: amounts in base units as decimal strings. */
/** The JSON summary printed by `testnet up --json` (testnet/summary.ts). */
export const summarize = summarizeReport;

export const testnetUpCommand: CliCommand = {
  name: "testnet up",
  summary: "start a local testnet: an embedded chain, N nodes and simulated devices; Ctrl-C stops it",
  usage:
    "[--nodes N] [--epochs K] [--epoch-seconds S] [--scenario NAME] [--seed X] [--dir DIR] [--adversary MODE] [--json]",
  help: `  --nodes N           node processes; each serves every market of the scenario (default ${DEFAULT_NODES})
  --epochs K          stop after K epochs of the first market (default: run until Ctrl-C); the other
                      markets run over the same wall time: every epoch of theirs that starts meanwhile
  --epoch-seconds S   epoch length of the first market; another market's epochs are a whole multiple
                      of it (two-markets: the data market's are 2 × S) (default ${DEFAULT_EPOCH_SECONDS})
  --scenario NAME     ${Object.keys(TESTNET_SCENARIOS).join(" | ")} (default ${DEFAULT_SCENARIO})
${Object.values(TESTNET_SCENARIOS)
  .map(
    (s) => `                        ${wrap(`${s.name}: ${s.description}`, 76, "                          ")}`,
  )
  .join("\n")}
  --seed X            makes the devices deterministic (default "smartmarket")
  --dir DIR           the testnet's folder: logs, data dirs, report (default ${DEFAULT_DIR})
  --adversary MODE    one more process attacks the first market in every epoch, with nothing but a
                      wallet, the contract's ABI and a node's API for the gossiped orders; the view,
                      the report and --json show each attack, the challenge that undid it, the bond
                      paid and the final result, and the attacker's balance before and after:
                        censor: right after each close, commit and propose a 1-unit self-trade
                          between its two wallets, to be first
                        skim: send a sell of its own, then propose the epoch's orders without the
                          two cheapest sells and the lowest bid, so that the price rises
                        copy: resend every honest propose/challenge found among the pending
                          transactions from its own account with a higher tip (it reverts
                          NotCommitted). A copier needs a mempool, so the chain mines a block every
                          ${COPY_BLOCK_TIME_S} s instead of one per transaction; every transaction then waits up to a
                          block, and an honest proposal (its turn after 2 s of reconciliation, then
                          commit and propose: two blocks) takes up to ~2.5 s. So epochs are at least
                          ${COPY_MIN_EPOCH_S} s and the challenge window is ${COPY_CHALLENGE_WINDOW_S} s: proposals until 7 s after the
                          close (the first three ranks), and 3 blocks left to challenge the last one
  --json              print a JSON summary on stdout when done (the live view goes to stderr)`,
  options: {
    nodes: { type: "string" },
    epochs: { type: "string" },
    "epoch-seconds": { type: "string" },
    scenario: { type: "string" },
    seed: { type: "string" },
    dir: { type: "string" },
    adversary: { type: "string" },
    json: { type: "boolean" },
  },
  handler: async (args, io) => {
    const nodes = wholeNumber(args.values.nodes, "--nodes", 1, 32) ?? DEFAULT_NODES;
    const adversaryArg = args.values.adversary as string | undefined;
    if (adversaryArg !== undefined && !isAdversaryMode(adversaryArg))
      throw new CliError(`--adversary must be one of: ${ADVERSARY_MODES.join(", ")}`);
    const adversary: AdversaryMode | null = adversaryArg ?? null;
    const epochs = wholeNumber(args.values.epochs, "--epochs", 1, 1_000_000) ?? null;
    const epochSeconds =
      wholeNumber(args.values["epoch-seconds"], "--epoch-seconds", 2, 3600) ?? DEFAULT_EPOCH_SECONDS;
    const scenarioName = (args.values.scenario as string | undefined) ?? DEFAULT_SCENARIO;
    const scenario = TESTNET_SCENARIOS[scenarioName];
    if (!scenario) {
      throw new CliError(
        `unknown scenario "${scenarioName}"; choose one of: ${Object.keys(TESTNET_SCENARIOS).join(", ")}`,
      );
    }
    const seed = (args.values.seed as string | undefined) ?? "smartmarket";
    const dir = resolve((args.values.dir as string | undefined) ?? DEFAULT_DIR);
    const json = Boolean(args.values.json);
    const out = (json ? process.stderr : process.stdout) as NodeJS.WriteStream;
    const interactive = Boolean(out.isTTY) && !json;
    // While the live view is open it owns the terminal: lines go through it, above the progress bar.
    let activeView: LiveView | null = null;
    const say = (line: string) => (activeView ? activeView.log(line) : out.write(`${line}\n`));

    // copy needs longer epochs on its block-a-second chain (adversary/timing.ts).
    const effectiveSeconds = adversary === "copy" ? Math.max(epochSeconds, COPY_MIN_EPOCH_S) : epochSeconds;
    const schedule =
      scenario.markets.length === 1
        ? `${effectiveSeconds} s epochs`
        : `epochs of ${scenario.markets.map((m) => `${m.name} ${effectiveSeconds * m.epochMultiple} s`).join(", ")}`;
    say(
      `smartmarket testnet: ${nodes} nodes, ${schedule}, scenario ${scenarioName}, seed "${seed}"` +
        (adversary ? `, adversary ${adversary}` : ""),
    );
    if (adversary === "copy" && effectiveSeconds !== epochSeconds)
      say(`--adversary copy: epochs of ${effectiveSeconds} s (a block a second; see --help)`);
    say(`folder ${dir}`);
    let net: Testnet | null = null;
    let interrupted = 0;
    const onSignal = () => {
      interrupted++;
      if (interrupted === 1) {
        say("\nstopping (Ctrl-C again to kill everything now)…");
        net?.stop();
      } else {
        void net?.down().finally(() => process.exit(130));
      }
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
      net = await Testnet.up({
        nodes,
        epochs,
        epochSeconds,
        scenario,
        scenarioName,
        seed,
        dir,
        adversary,
        log: say,
      });
      if (interrupted > 0) net.stop();
      say(interactive ? "live market (Ctrl-C to stop):" : "epochs as they become final:");
      const view = new LiveView({
        nodes,
        out,
        interactive,
        markets: net.markets.map((m) => ({ name: m.name, market: m.info })),
        adversary,
      });
      activeView = view;
      let report: TestnetReport;
      try {
        report = await net.run((markets) => view.update(markets));
        // Rows that became final after the last progress tick.
        view.update(report.markets.map((m) => ({ market: m.market.id, rows: m.epochs, current: null })));
      } finally {
        activeView = null;
        view.close();
      }
      const files = writeReport(dir, report);
      await net.down();
      net = null;
      say(`report: ${files.jsonPath}\n        ${files.htmlPath} (open it in a browser)`);
      if (report.firstSettlementS !== null)
        say(`first settlement ${report.firstSettlementS.toFixed(1)} s after start`);
      if (report.adversary) for (const line of describeAdversary(report)) say(line);
      if (json) io.stdout.write(`${JSON.stringify(summarize(report))}\n`);
      return runSucceeded(report) ? ExitCode.OK : ExitCode.FAILURE;
    } catch (err) {
      if (net) await net.down();
      throw new CliError((err as Error).message, ExitCode.FAILURE);
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  },
};

export const testnetStatusCommand: CliCommand = {
  name: "testnet status",
  summary: "show the running local testnet: chain, nodes, their epochs and peers",
  usage: "[--dir DIR] [--json | --env]",
  help: `  --dir DIR   the testnet's folder (default ${DEFAULT_DIR})
  --json      one JSON object (with \`join\`: what a node started by hand needs)
  --env       only the join settings, as shell lines: \`eval "$(smartmarket testnet status --env)"\` sets
              SMARTMARKET_RPC_URL, _CONTRACT, _MARKET and _BOOTSTRAP for \`node start\`, wallet, deposit…`,
  options: { dir: { type: "string" }, json: { type: "boolean" }, env: { type: "boolean" } },
  handler: async (args, io) => {
    const dir = resolve((args.values.dir as string | undefined) ?? DEFAULT_DIR);
    const state = readState(dir);
    if (!state)
      throw new CliError(`no testnet is running in ${dir} (start one with \`npm start\`)`, ExitCode.FAILURE);
    if (args.values.env) {
      if (args.values.json) throw new CliError("--env and --json are exclusive");
      io.stdout.write(joinEnv(joinLine(state)));
      return ExitCode.OK;
    }
    const token = (dataDir: string) => {
      try {
        return readFileSync(join(dataDir, "api-token"), "utf8").trim();
      } catch {
        return null;
      }
    };
    const nodes = await Promise.all(
      state.nodes.map(async (n) => {
        let status = null as NodeStatus | null;
        const t = token(n.dataDir);
        if (t && pidAlive(n.pid)) {
          status = await new ApiClient(n.apiUrl, t, { timeoutMs: 3000 }).status().catch(() => null);
        }
        return { ...n, alive: pidAlive(n.pid), status };
      }),
    );
    const markets = state.markets;
    const joinInfo = joinLine(state);
    const value = {
      dir,
      launcherAlive: pidAlive(state.launcherPid),
      chain: state.rpcUrl,
      contract: state.contract,
      join: joinInfo,
      markets,
      nodes,
      adversary: state.adversary ? { ...state.adversary, alive: pidAlive(state.adversary.pid) } : null,
    };
    if (args.values.json) {
      io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      return ExitCode.OK;
    }
    const lines = [
      `testnet in ${dir}: launcher pid ${state.launcherPid} ${value.launcherAlive ? "running" : "gone"}`,
      `chain ${state.rpcUrl} (pid ${state.anvilPid} ${pidAlive(state.anvilPid) ? "running" : "gone"}), contract ${state.contract}`,
      ...markets.map(
        (m) =>
          `market ${m.name} ${m.id}: epochs of ${m.epochLengthS} s, tokens base ${m.base}, quote ${m.quote}`,
      ),
      ...(state.adversary
        ? [
            `adversary ${state.adversary.mode} (pid ${state.adversary.pid} ${pidAlive(state.adversary.pid) ? "running" : "gone"}), ` +
              `wallets ${state.adversary.addresses.join(", ")}, log ${state.adversary.log}`,
          ]
        : []),
    ];
    io.stdout.write(`${lines.join("\n")}\n`);
    io.stdout.write(
      renderTable(
        ["NODE", "PID", "STATE", "API", "PEERS", "LOG"],
        nodes.map((n) => [
          String(n.index),
          String(n.pid),
          n.alive ? "running" : "stopped",
          n.apiUrl,
          String(n.status?.peers ?? "-"),
          n.log,
        ]),
      ),
    );
    // Every market on every node: where its epoch is, as the node sees it.
    const rows = nodes.flatMap((n) =>
      markets.map((m) => {
        const ms = n.status?.markets.find((x) => x.id === m.id);
        return [
          String(n.index),
          m.name,
          ms?.epoch.current ?? "-",
          ms?.epoch.phase ?? (n.status ? "not served" : "-"),
          String(ms?.epoch.orders ?? "-"),
          ms?.lastSettledEpoch ?? "-",
          String(ms?.peers ?? "-"),
        ];
      }),
    );
    io.stdout.write(
      `\n${renderTable(["NODE", "MARKET", "EPOCH", "PHASE", "ORDERS", "LAST SETTLED", "PEERS"], rows)}`,
    );
    io.stdout.write(
      `\nJoin this testnet from another terminal (a wallet first: \`smartmarket keys new --data-dir DIR\`, then\n` +
        `\`smartmarket testnet fund <address>\` for gas and test tokens):\n  ${joinInfo.command}\n`,
    );
    return ExitCode.OK;
  },
};

export const testnetDownCommand: CliCommand = {
  name: "testnet down",
  summary: "stop the local testnet started in the background or in another terminal",
  usage: "[--dir DIR]",
  options: { dir: { type: "string" } },
  handler: async (args, io) => {
    const dir = resolve((args.values.dir as string | undefined) ?? DEFAULT_DIR);
    const state = readState(dir);
    if (!state) {
      io.stdout.write(`no testnet is running in ${dir}\n`);
      return ExitCode.OK;
    }
    const wait = async (pid: number, ms: number) => {
      const deadline = Date.now() + ms;
      while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      return !pidAlive(pid);
    };
    if (pidAlive(state.launcherPid) && state.launcherPid !== process.pid) {
      // The launcher stops its nodes and chain and writes the report.
      process.kill(state.launcherPid, "SIGTERM");
      await wait(state.launcherPid, 30_000);
    }
    for (const pid of [state.adversary?.pid ?? -1, ...state.nodes.map((n) => n.pid), state.anvilPid]) {
      if (pid > 0 && pidAlive(pid)) {
        process.kill(pid, "SIGTERM");
        if (!(await wait(pid, 10_000))) process.kill(pid, "SIGKILL");
      }
    }
    rmSync(stateFile(dir), { force: true });
    io.stdout.write(`testnet in ${dir} stopped\n`);
    return ExitCode.OK;
  },
};

export const testnetAdversaryCommand: CliCommand = {
  name: "testnet adversary",
  summary:
    "the attacker process of `testnet up --adversary` (the launcher starts it as testnet/adversary/main.ts)",
  usage: "--dir DIR [--mode censor|skim|copy]",
  help: `  --dir DIR     the running testnet's folder: state.json, and adversary/config.json (its keys),
                written by \`testnet up --adversary MODE\`, which funds its wallets
  --mode MODE   ${ADVERSARY_MODES.join(" | ")} (default: the config's)
It attacks the epochs the launcher lists in adversary/range.json and journals what it did in
adversary/journal.jsonl; SIGTERM (or the launcher's exit) stops it.`,
  options: { dir: { type: "string" }, mode: { type: "string" } },
  handler: async (args, io) => {
    const dir = resolve((args.values.dir as string | undefined) ?? DEFAULT_DIR);
    const mode = args.values.mode as string | undefined;
    if (mode !== undefined && !isAdversaryMode(mode))
      throw new CliError(`--mode must be one of: ${ADVERSARY_MODES.join(", ")}`);
    const code = await runAdversaryProcess({
      dir,
      ...(mode ? { mode } : {}),
      exitWithParent: io.env.SMARTMARKET_EXIT_WITH_PARENT === "1",
      write: (text) => io.stdout.write(text),
    });
    return code === 0 ? ExitCode.OK : ExitCode.FAILURE;
  },
};

/** Every command of the `smartmarket` CLI. */
export const ALL_COMMANDS: readonly CliCommand[] = [
  ...NODE_COMMANDS,
  testnetUpCommand,
  testnetStatusCommand,
  testnetFundCommand,
  testnetDownCommand,
  testnetAdversaryCommand,
];
