// Every command's help: each option that takes a value shows a placeholder (`--quantity Q`) in its usage
// line or help, a boolean option shows none, and a group word ("keys", "node", "testnet") lists its
// commands. Checked over the whole registry, so commands added later are held to the same rule.
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import type { CliCommand } from "../../../node/cli/command.ts";
import { NODE_COMMANDS } from "../../../node/cli/commands.ts";
import { runCli } from "../../../node/cli/main.ts";
import { ALL_COMMANDS } from "../../../testnet/cli.ts";

async function run(argv: string[], commands: readonly CliCommand[] = ALL_COMMANDS) {
  let stdout = "";
  let stderr = "";
  const out = new PassThrough().on("data", (d) => (stdout += String(d)));
  const err = new PassThrough().on("data", (d) => (stderr += String(d)));
  const code = await runCli(
    argv,
    { stdout: out, stderr: err, stdin: new PassThrough(), isTTY: false, env: {} },
    commands,
  );
  return { code, stdout, stderr };
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** A value placeholder after a flag: an upper-case word (FILE, Q, MULTIADDR), <name> or a choice (a|b|c). */
const PLACEHOLDER = "(?:[A-Z][A-Z0-9_|-]*|<[a-z-]+>|[a-z0-9-]+(?:\\|[a-z0-9-]+)+)";

/** What is wrong with one command's help, as readable lines (empty: nothing). */
function helpProblems(cmd: CliCommand, helpText: string): string[] {
  const problems: string[] = [];
  const usageLine = helpText.split("\n")[0] ?? "";
  for (const [flag, opt] of Object.entries(cmd.options)) {
    const withValue = new RegExp(`--${escapeRe(flag)}[ =]${PLACEHOLDER}(?![a-z])`);
    const mentions = new RegExp(`--${escapeRe(flag)}(?![a-z-])`, "g");
    if (opt.type === "string") {
      if (!withValue.test(helpText))
        problems.push(`${cmd.name}: --${flag} takes a value but no placeholder is shown`);
      // In the usage line, every mention of a value option carries its placeholder.
      const bare = [...usageLine.matchAll(mentions)].filter(
        (m) => !new RegExp(`^[ =]${PLACEHOLDER}`).test(usageLine.slice((m.index ?? 0) + m[0].length)),
      );
      if (bare.length > 0) problems.push(`${cmd.name}: the usage line shows --${flag} without its value`);
    } else if (new RegExp(`--${escapeRe(flag)} [A-Z][A-Z]+\\b(?! )`).test(usageLine)) {
      problems.push(`${cmd.name}: the usage line shows a value after the boolean --${flag}`);
    }
  }
  return problems;
}

describe("CLI help", () => {
  it("every command's --help exits 0 and shows a placeholder for each option that takes a value", async () => {
    const problems: string[] = [];
    for (const cmd of ALL_COMMANDS) {
      const r = await run([...cmd.name.split(" "), "--help"]);
      expect(r.code, cmd.name).toBe(0);
      expect(r.stdout, cmd.name).toMatch(new RegExp(`^Usage: smartmarket ${escapeRe(cmd.name)}`));
      problems.push(...helpProblems(cmd, r.stdout));
    }
    expect(problems).toEqual([]);
  });

  it("the placeholder check catches an option without one", () => {
    const bad: CliCommand = {
      name: "demo",
      summary: "x",
      usage: "--quantity [--json]",
      options: { quantity: { type: "string" }, json: { type: "boolean" } },
      handler: async () => 0,
    };
    expect(helpProblems(bad, "Usage: smartmarket demo --quantity [--json]\n")).toEqual([
      "demo: --quantity takes a value but no placeholder is shown",
      "demo: the usage line shows --quantity without its value",
    ]);
    expect(helpProblems(bad, "Usage: smartmarket demo --quantity Q [--json]\n")).toEqual([]);
  });

  it("a group word with --help lists its commands and exits 0", async () => {
    const groups = [
      ...new Set(ALL_COMMANDS.filter((c) => c.name.includes(" ")).map((c) => c.name.split(" ")[0]!)),
    ];
    expect(groups).toEqual(expect.arrayContaining(["keys", "node", "testnet", "market"]));
    for (const word of groups) {
      for (const flag of ["--help", "-h"]) {
        const r = await run([word, flag]);
        expect(r.code, `${word} ${flag}`).toBe(0);
        expect(r.stderr).toBe("");
        for (const cmd of ALL_COMMANDS.filter((c) => c.name.startsWith(`${word} `)))
          expect(r.stdout, word).toContain(cmd.name);
      }
    }
    // The node's own registry (a device runs `smartmarket node ...` with it) does the same.
    const node = await run(["node", "--help"], NODE_COMMANDS);
    expect(node.code).toBe(0);
    expect(node.stdout).toContain("node start");
    // A group word alone is bad input: the list on stderr, exit 2.
    const bare = await run(["keys"]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("keys new");
  });

  it("clear accepts --json: stdout is the JSON line only, also with --explain", async () => {
    const id = (n: number) => `0x${n.toString(16).padStart(64, "0")}`;
    const book = JSON.stringify({
      orders: [
        { id: id(1), side: "buy", limitPrice: "10", quantity: "5" },
        { id: id(2), side: "sell", limitPrice: "8", quantity: "5" },
      ],
    });
    let stdout = "";
    let stderr = "";
    const stdin = new PassThrough();
    stdin.end(book);
    const code = await runCli(
      ["clear", "--json", "--explain"],
      {
        stdout: new PassThrough().on("data", (d) => (stdout += String(d))),
        stderr: new PassThrough().on("data", (d) => (stderr += String(d))),
        stdin,
        isTTY: false,
        env: {},
      },
      ALL_COMMANDS,
    );
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ volume: "5" });
    expect(stderr).toMatch(/price/);
  });
});
