// The compiled contracts (committed JSON written by settlement/build.ts), loaded without the compiler.
import { readFileSync } from "node:fs";
import type { InterfaceAbi } from "ethers";
import { Interface } from "../protocol/ethers.ts";
import type { Hex } from "../protocol/hex.ts";

interface ArtifactFile {
  readonly contractName: string;
  readonly abi: InterfaceAbi;
  readonly bytecode: Hex;
  readonly deployedBytecode: Hex;
}

function load(name: string): ArtifactFile {
  const text = readFileSync(new URL(`./artifacts/${name}.json`, import.meta.url), "utf8");
  return JSON.parse(text) as ArtifactFile;
}

const smartMarket = load("SmartMarket");
const testToken = load("TestToken");

export const SMART_MARKET_ABI: InterfaceAbi = smartMarket.abi;
export const SMART_MARKET_BYTECODE: Hex = smartMarket.bytecode;
export const TEST_TOKEN_ABI: InterfaceAbi = testToken.abi;
export const TEST_TOKEN_BYTECODE: Hex = testToken.bytecode;

/** The settlement contract's ABI (functions, events, custom errors) as an ethers Interface. */
export const smartMarketInterface: Interface = new Interface(SMART_MARKET_ABI);
export const testTokenInterface: Interface = new Interface(TEST_TOKEN_ABI);
