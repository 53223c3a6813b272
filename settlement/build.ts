// Offline build of the settlement contracts: solcjs (the npm `solc` package, no compiler download) compiles
// settlement/contracts/*.sol and this writes one JSON artifact per deployable contract to
// settlement/artifacts/. The artifacts are committed, so the runtime never needs the compiler; a test
// recompiles and asserts they are up to date.
//
//   node settlement/build.ts           write the artifacts
//   node settlement/build.ts --check   exit 1 if the committed artifacts are stale
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

interface Solc {
  version(): string;
  compile(input: string): string;
}

const require = createRequire(import.meta.url);

export const CONTRACTS_DIR = fileURLToPath(new URL("./contracts/", import.meta.url));
export const ARTIFACTS_DIR = fileURLToPath(new URL("./artifacts/", import.meta.url));

/** The contracts that get an artifact (ISmartMarket's ABI is part of SmartMarket's). */
export const DEPLOYABLE = ["SmartMarket", "TestToken"] as const;
export type ContractName = (typeof DEPLOYABLE)[number];

/**
 * Compiler settings. via-IR with a high `runs` optimises settle()'s loop (measured: see docs/settlement.md);
 * evmVersion "cancun" runs on every current EVM chain (PUSH0, MCOPY) without assuming later forks.
 * Source unit names are bare file names, never absolute paths: the metadata hash at the end of the bytecode
 * covers them, and the artifacts must be identical on every machine.
 */
export const COMPILER_SETTINGS = {
  optimizer: { enabled: true, runs: 10_000 },
  viaIR: true,
  evmVersion: "cancun",
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
} as const;

export interface Artifact {
  readonly contractName: string;
  readonly sourceName: string;
  readonly compiler: { readonly version: string; readonly settings: unknown };
  readonly abi: unknown[];
  readonly bytecode: string;
  readonly deployedBytecode: string;
}

interface SolcOutput {
  errors?: { severity: "error" | "warning" | "info"; formattedMessage: string }[];
  contracts?: Record<
    string,
    Record<
      string,
      { abi: unknown[]; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }
    >
  >;
}

/** Thrown when solc reports errors; the message holds solc's formatted diagnostics. */
export class CompileError extends Error {
  readonly code = "COMPILE_FAILED" as const;
  constructor(message: string) {
    super(message);
    this.name = "CompileError";
  }
}

function readSources(): Record<string, { content: string }> {
  const sources: Record<string, { content: string }> = {};
  for (const file of readdirSync(CONTRACTS_DIR).sort()) {
    if (file.endsWith(".sol")) sources[file] = { content: readFileSync(CONTRACTS_DIR + file, "utf8") };
  }
  return sources;
}

/** Compiles every source; returns the artifacts of the deployable contracts. Warnings are returned too. */
export function compileContracts(): { artifacts: Record<ContractName, Artifact>; warnings: string[] } {
  const solc = require("solc") as Solc;
  const input = { language: "Solidity", sources: readSources(), settings: COMPILER_SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const diagnostics = output.errors ?? [];
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new CompileError(errors.map((e) => e.formattedMessage).join("\n"));
  const warnings = diagnostics.filter((d) => d.severity === "warning").map((d) => d.formattedMessage);
  const artifacts = {} as Record<ContractName, Artifact>;
  for (const name of DEPLOYABLE) {
    const sourceName = `${name}.sol`;
    const compiled = output.contracts?.[sourceName]?.[name];
    if (!compiled) throw new CompileError(`solc produced no output for ${sourceName}:${name}`);
    artifacts[name] = {
      contractName: name,
      sourceName,
      compiler: { version: solc.version(), settings: COMPILER_SETTINGS },
      abi: compiled.abi,
      bytecode: `0x${compiled.evm.bytecode.object}`,
      deployedBytecode: `0x${compiled.evm.deployedBytecode.object}`,
    };
  }
  return { artifacts, warnings };
}

/** The exact text of an artifact file (stable key order, trailing newline). */
export function renderArtifact(artifact: Artifact): string {
  return `${JSON.stringify(artifact, null, 2)}\n`;
}

export function artifactPath(name: ContractName): string {
  return `${ARTIFACTS_DIR}${name}.json`;
}

/** The names of the committed artifacts that differ from a fresh compile (or are missing). */
export function staleArtifacts(artifacts: Record<ContractName, Artifact>): ContractName[] {
  const stale: ContractName[] = [];
  for (const name of DEPLOYABLE) {
    let committed: string | null = null;
    try {
      committed = readFileSync(artifactPath(name), "utf8");
    } catch {
      committed = null;
    }
    if (committed !== renderArtifact(artifacts[name])) stale.push(name);
  }
  return stale;
}

function main(): void {
  const { artifacts, warnings } = compileContracts();
  for (const w of warnings) process.stderr.write(`${w}\n`);
  if (process.argv.includes("--check")) {
    const stale = staleArtifacts(artifacts);
    if (stale.length > 0) {
      process.stderr.write(`stale artifacts: ${stale.join(", ")}; run \`node settlement/build.ts\`\n`);
      process.exit(1);
    }
    process.stdout.write("artifacts are up to date\n");
    return;
  }
  for (const name of DEPLOYABLE) {
    writeFileSync(artifactPath(name), renderArtifact(artifacts[name]));
    const size = (artifacts[name].deployedBytecode.length - 2) / 2;
    process.stdout.write(`wrote ${artifactPath(name)} (runtime ${size} bytes)\n`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
