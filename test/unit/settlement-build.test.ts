// The committed artifacts are what the sources compile to (so the runtime never needs the compiler and
// the artifacts cannot drift from the Solidity).

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { smartMarketInterface } from "../../settlement/artifacts.ts";
import {
  artifactPath,
  compileContracts,
  DEPLOYABLE,
  renderArtifact,
  staleArtifacts,
} from "../../settlement/build.ts";

describe("settlement/build.ts", () => {
  it("the committed artifacts are up to date (run `node settlement/build.ts` after editing a .sol)", () => {
    const { artifacts, warnings } = compileContracts();
    expect(warnings).toEqual([]);
    expect(staleArtifacts(artifacts)).toEqual([]);
    for (const name of DEPLOYABLE) {
      expect(readFileSync(artifactPath(name), "utf8")).toBe(renderArtifact(artifacts[name]));
      // EIP-170: deployable on any EVM chain.
      expect((artifacts[name].deployedBytecode.length - 2) / 2).toBeLessThanOrEqual(24_576);
    }
  });

  it("the ABI declares every event and custom error of ISmartMarket", () => {
    const events = smartMarketInterface.fragments.filter((f) => f.type === "event").length;
    const errors = smartMarketInterface.fragments.filter((f) => f.type === "error").length;
    expect(events).toBe(5);
    expect(errors).toBeGreaterThanOrEqual(30);
    expect(smartMarketInterface.getEvent("Settled")?.format("sighash")).toBe(
      "Settled(bytes32,uint64,uint256,uint256,bytes32,address)",
    );
  });
});
