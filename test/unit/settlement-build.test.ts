// The committed artifacts were compiled from the current sources (so the runtime never needs the compiler
// and the artifacts cannot drift from the Solidity; CI also recompiles them, .ci/run), the test-only
// contracts stay out of the production artifacts, and the deployed contract fits EIP-170.

import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { smartMarketInterface } from "../../settlement/artifacts.ts";
import {
  ARTIFACTS_DIR,
  type Artifact,
  artifactPath,
  COMPILER_SETTINGS,
  contractSources,
  DEPLOYABLE,
  sourceDigest,
  TEST_DEPLOYABLE,
  testArtifactPath,
} from "../../settlement/build.ts";

const require = createRequire(import.meta.url);

describe("settlement/build.ts", () => {
  it("the committed artifacts were compiled from the current sources (run `node settlement/build.ts` after editing a .sol)", () => {
    // The full recompile, compared byte for byte, is `node settlement/build.ts --check` (a CI step: ~30 s).
    const { production, withTests } = contractSources();
    const read = (path: string) => JSON.parse(readFileSync(path, "utf8")) as Artifact;
    const solcVersion = (
      JSON.parse(readFileSync(require.resolve("solc/package.json"), "utf8")) as { version: string }
    ).version;
    for (const name of DEPLOYABLE) {
      const a = read(artifactPath(name));
      expect(a.sourceDigest, name).toBe(sourceDigest(production));
      expect(a.compiler.version.startsWith(`${solcVersion}+`), name).toBe(true);
      expect(a.compiler.settings).toEqual(JSON.parse(JSON.stringify(COMPILER_SETTINGS)));
      // EIP-170: deployable on any EVM chain.
      expect((a.deployedBytecode.length - 2) / 2).toBeLessThanOrEqual(24_576);
    }
    for (const name of TEST_DEPLOYABLE) {
      expect(read(testArtifactPath(name)).sourceDigest, name).toBe(sourceDigest(withTests));
    }
    // The production artifacts are SmartMarket and TestToken only.
    expect(readdirSync(ARTIFACTS_DIR).sort()).toEqual(DEPLOYABLE.map((n) => `${n}.json`).sort());
  });

  it("sourceDigest changes with any source byte and with the file name", () => {
    const base = { "A.sol": { content: "contract A {}" }, "B.sol": { content: "contract B {}" } };
    const d = sourceDigest(base);
    expect(sourceDigest({ ...base, "A.sol": { content: "contract A { }" } })).not.toBe(d);
    expect(sourceDigest({ "C.sol": base["A.sol"], "B.sol": base["B.sol"] })).not.toBe(d);
    expect(sourceDigest({ "B.sol": base["B.sol"], "A.sol": base["A.sol"] })).toBe(d);
  });

  it("the ABI declares every event and custom error of ISmartMarket, and the functions of version 2", () => {
    const events = smartMarketInterface.fragments.filter((f) => f.type === "event").length;
    const errors = smartMarketInterface.fragments.filter((f) => f.type === "error").length;
    expect(events).toBe(8);
    // + EpochLengthTooLong, GenesisTooFar (createMarket bounds); + ZeroMinQuantity, OrderBelowMinimum,
    // SideOverCap, CapNotTight, BatchTooLarge (issue 10: dust); + NewBatchMismatch (padded unions)
    expect(errors).toBe(52);
    const sighash = (kind: "event" | "function", name: string) =>
      (kind === "event"
        ? smartMarketInterface.getEvent(name)
        : smartMarketInterface.getFunction(name)
      )?.format("sighash");
    expect(sighash("event", "Proposed")).toBe(
      "Proposed(bytes32,uint64,address,bytes32,bytes32,uint256,uint256,uint256)",
    );
    expect(sighash("event", "Challenged")).toBe(
      "Challenged(bytes32,uint64,address,address,bytes32,bytes32,uint256,uint256,uint256)",
    );
    expect(sighash("event", "Finalized")).toBe("Finalized(bytes32,uint64,address,uint256)");
    expect(sighash("function", "createMarket")).toBe(
      "createMarket(address,address,uint64,uint64,uint16,uint96,uint32,uint128)",
    );
    expect(sighash("function", "propose")).toBe("propose(bytes32,uint64,bytes)");
    expect(sighash("function", "challenge")).toBe("challenge(bytes32,uint64,address,bytes)");
    expect(sighash("function", "finalize")).toBe("finalize(bytes32,(uint64,bytes32,address,uint256)[])");
    expect(sighash("function", "certify")).toBe("certify(bytes32,uint64,bytes)");
    expect(sighash("function", "collateralOfMany")).toBe("collateralOfMany(bytes32,address[],uint64)");
    expect(smartMarketInterface.getFunction("settle")).toBeNull();
    expect(smartMarketInterface.getEvent("Settled")).toBeNull();
  });
});
