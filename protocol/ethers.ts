// ethers 6, loaded through its CommonJS build. Every module here imports ethers' values from this file,
// not from "ethers".
//
// Why: ethers' ES-module build imports `http` as an ES module. Node then reads every export of
// `node:http`, and that loads Node's fetch/WebSocket implementation (undici, ~10 MB of a process's
// resident memory) which nothing here uses. The CommonJS build `require`s `http`, which reads nothing.
// One build only: ESM and CommonJS ethers are two copies of the library whose objects do not mix.
// Types come from the package's declarations (the same for both builds).
import { createRequire } from "node:module";
import type * as Ethers from "ethers";

const ethers = createRequire(import.meta.url)("ethers") as typeof Ethers;

export const {
  AbiCoder,
  concat,
  encryptKeystoreJson,
  FetchRequest,
  formatEther,
  getAddress,
  Interface,
  isKeystoreJson,
  JsonRpcProvider,
  keccak256,
  recoverAddress,
  toBeHex,
  toUtf8Bytes,
  TypedDataEncoder,
  verifyTypedData,
  Wallet,
  zeroPadValue,
} = ethers;

export type AbiCoder = Ethers.AbiCoder;
export type FetchRequest = Ethers.FetchRequest;
export type Interface = Ethers.Interface;
export type JsonRpcProvider = Ethers.JsonRpcProvider;
export type TypedDataEncoder = Ethers.TypedDataEncoder;
export type Wallet = Ethers.Wallet;
