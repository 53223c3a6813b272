// Offline build of the settlement contracts: solcjs (the npm `solc` package, no compiler download) compiles
// settlement/contracts/*.sol and this writes one JSON artifact per deployable contract to
// settlement/artifacts/. The test-only contracts of test/contracts/*.sol (a harness that inherits
// SmartMarket) are compiled in the same run and written to test/contracts/artifacts/, never next to the
// production artifacts. All artifacts are committed, so neither the runtime nor the tests need the compiler.
// Each artifact records the SHA-256 of the sources and settings it was compiled from (`sourceDigest`): a
// unit test checks it against the sources in a few milliseconds, and CI recompiles everything
// (`--check`, in .ci/run) and compares the artifacts byte for byte.
//
//   node settlement/build.ts           write the artifacts
//   node settlement/build.ts --check   exit 1 if the committed artifacts are stale
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

interface Solc {
  version(): string;
  compile(input: string): string;
}

const require = createRequire(import.meta.url);

export const CONTRACTS_DIR = fileURLToPath(new URL("./contracts/", import.meta.url));
export const ARTIFACTS_DIR = fileURLToPath(new URL("./artifacts/", import.meta.url));
export const TEST_CONTRACTS_DIR = fileURLToPath(new URL("../test/contracts/", import.meta.url));
export const TEST_ARTIFACTS_DIR = fileURLToPath(new URL("../test/contracts/artifacts/", import.meta.url));

/** The contracts that get an artifact (ISmartMarket's ABI is part of SmartMarket's). */
export const DEPLOYABLE = ["SmartMarket", "TestToken"] as const;
export type ContractName = (typeof DEPLOYABLE)[number];

/** Test-only contracts (test/contracts/), with artifacts in test/contracts/artifacts/. */
export const TEST_DEPLOYABLE = ["CertifyHarness", "EscrowReader"] as const;
export type TestContractName = (typeof TEST_DEPLOYABLE)[number];

/**
 * solc warns about every use of transient storage ("can break the composability of smart contracts": it
 * lives until the end of the transaction, not of the call). SmartMarket keeps each certification's coverage
 * state under its own namespace (a per-transaction counter), and clears the one other slot it uses, so two
 * calls in one transaction never see each other's values; the warning is expected and not reported.
 */
const EXPECTED_WARNING = /Transient storage as defined by EIP-1153 can break the composability/;

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
  /** sourceDigest() of the input this artifact was compiled from. */
  readonly sourceDigest: string;
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

/**
 * Every .sol file of `dirs`, keyed by its bare file name (so `import "./SmartMarket.sol"` in a test contract
 * resolves to the production source).
 */
function readSources(dirs: readonly string[]): Record<string, { content: string }> {
  const sources: Record<string, { content: string }> = {};
  for (const dir of dirs) {
    for (const file of readdirSync(dir).sort()) {
      if (file.endsWith(".sol")) sources[file] = { content: readFileSync(dir + file, "utf8") };
    }
  }
  return sources;
}

/**
 * SHA-256 over the compiler settings and every source of a compiler input (name and content, by name), hex.
 * Production artifacts come from the production sources; test artifacts from those and the test sources.
 */
export function sourceDigest(sources: Record<string, { content: string }>): string {
  const h = createHash("sha256");
  h.update(JSON.stringify(COMPILER_SETTINGS));
  for (const name of Object.keys(sources).sort()) {
    const content = sources[name]!.content;
    h.update(`\0${name}\0${Buffer.byteLength(content)}\0`);
    h.update(content);
  }
  return h.digest("hex");
}

/** The sources of the production artifacts, and of the test artifacts (production and test sources). */
export function contractSources(): {
  production: Record<string, { content: string }>;
  withTests: Record<string, { content: string }>;
} {
  const production = readSources([CONTRACTS_DIR]);
  const tests = readSources([TEST_CONTRACTS_DIR]);
  for (const file of Object.keys(tests)) {
    if (production[file]) throw new CompileError(`two contract sources named ${file}`);
  }
  return { production, withTests: { ...production, ...tests } };
}

/** One solc run over `sources`, output only for `selected` source files. */
function compile(
  solc: Solc,
  sources: Record<string, { content: string }>,
  selected: readonly string[],
): { output: SolcOutput; warnings: string[] } {
  const outputSelection = Object.fromEntries(
    selected.map((file) => [file, COMPILER_SETTINGS.outputSelection["*"]]),
  );
  const settings = { ...COMPILER_SETTINGS, outputSelection };
  const output = JSON.parse(
    solc.compile(JSON.stringify({ language: "Solidity", sources, settings })),
  ) as SolcOutput;
  const diagnostics = output.errors ?? [];
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new CompileError(errors.map((e) => e.formattedMessage).join("\n"));
  const warnings = diagnostics
    .filter((d) => d.severity === "warning" && !EXPECTED_WARNING.test(d.formattedMessage))
    .map((d) => d.formattedMessage);
  return { output, warnings };
}

/**
 * Compiles the production sources, then the test sources with them (a second run: with a contract that
 * inherits SmartMarket in the same input, solc's via-IR optimizer emits different bytecode for SmartMarket
 * itself, so the production artifacts come from a run over the production sources only). Returns the
 * artifacts of the deployable contracts, those of the test contracts, and solc's warnings (except the
 * expected one, see EXPECTED_WARNING).
 */
export function compileContracts(): {
  artifacts: Record<ContractName, Artifact>;
  testArtifacts: Record<TestContractName, Artifact>;
  warnings: string[];
} {
  const solc = require("solc") as Solc;
  const { production, withTests } = contractSources();
  const main = compile(solc, production, Object.keys(production));
  const testFiles = Object.keys(withTests).filter((f) => !(f in production));
  const test = compile(solc, withTests, testFiles);
  const artifactOf = (output: SolcOutput, name: string, digest: string): Artifact => {
    const sourceName = `${name}.sol`;
    const compiled = output.contracts?.[sourceName]?.[name];
    if (!compiled) throw new CompileError(`solc produced no output for ${sourceName}:${name}`);
    return {
      contractName: name,
      sourceName,
      compiler: { version: solc.version(), settings: COMPILER_SETTINGS },
      sourceDigest: digest,
      abi: compiled.abi,
      bytecode: `0x${compiled.evm.bytecode.object}`,
      deployedBytecode: `0x${compiled.evm.deployedBytecode.object}`,
    };
  };
  const artifacts = {} as Record<ContractName, Artifact>;
  const mainDigest = sourceDigest(production);
  for (const name of DEPLOYABLE) artifacts[name] = artifactOf(main.output, name, mainDigest);
  const testArtifacts = {} as Record<TestContractName, Artifact>;
  const testDigest = sourceDigest(withTests);
  for (const name of TEST_DEPLOYABLE) testArtifacts[name] = artifactOf(test.output, name, testDigest);
  return { artifacts, testArtifacts, warnings: [...main.warnings, ...test.warnings] };
}

/** The exact text of an artifact file (stable key order, trailing newline). */
export function renderArtifact(artifact: Artifact): string {
  return `${JSON.stringify(artifact, null, 2)}\n`;
}

export function artifactPath(name: ContractName): string {
  return `${ARTIFACTS_DIR}${name}.json`;
}

export function testArtifactPath(name: TestContractName): string {
  return `${TEST_ARTIFACTS_DIR}${name}.json`;
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** The names of the committed artifacts (production and test) that differ from a fresh compile or are missing. */
export function staleArtifacts(
  artifacts: Record<ContractName, Artifact>,
  testArtifacts?: Record<TestContractName, Artifact>,
): (ContractName | TestContractName)[] {
  const stale: (ContractName | TestContractName)[] = [];
  for (const name of DEPLOYABLE) {
    if (readOrNull(artifactPath(name)) !== renderArtifact(artifacts[name])) stale.push(name);
  }
  for (const name of testArtifacts ? TEST_DEPLOYABLE : []) {
    if (readOrNull(testArtifactPath(name)) !== renderArtifact(testArtifacts![name])) stale.push(name);
  }
  return stale;
}

function main(): void {
  const { artifacts, testArtifacts, warnings } = compileContracts();
  for (const w of warnings) process.stderr.write(`${w}\n`);
  if (process.argv.includes("--check")) {
    const stale = staleArtifacts(artifacts, testArtifacts);
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
  mkdirSync(TEST_ARTIFACTS_DIR, { recursive: true });
  for (const name of TEST_DEPLOYABLE) {
    writeFileSync(testArtifactPath(name), renderArtifact(testArtifacts[name]));
    const size = (testArtifacts[name].deployedBytecode.length - 2) / 2;
    process.stdout.write(`wrote ${testArtifactPath(name)} (runtime ${size} bytes; test only)\n`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
