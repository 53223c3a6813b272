// The node's wallet: an encrypted JSON keystore (ethers, scrypt) in the data dir. It signs the orders
// the node submits for its device and pays the gas of settlements.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encryptKeystoreJson, Wallet } from "ethers";
import type { Hex } from "../protocol/hex.ts";
import { KEYSTORE_FILE } from "./constants.ts";

export class WalletError extends Error {
  readonly code = "WALLET" as const;
  constructor(message: string) {
    super(message);
    this.name = "WalletError";
  }
}

export function keystorePath(dataDir: string): string {
  return join(dataDir, KEYSTORE_FILE);
}

/** Creates a new key and writes it encrypted; refuses to overwrite an existing keystore. */
export async function createKeystore(
  dataDir: string,
  password: string,
  opts: { privateKey?: Hex; scryptN?: number } = {},
): Promise<{ address: Hex; path: string }> {
  const path = keystorePath(dataDir);
  if (existsSync(path))
    throw new WalletError(`a keystore already exists at ${path}; refusing to overwrite it`);
  if (password.length < 8) throw new WalletError("the password must be at least 8 characters");
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const wallet = opts.privateKey ? new Wallet(opts.privateKey) : Wallet.createRandom();
  // scrypt N defaults to ethers' 2^17; tests and throwaway testnet wallets may pass a smaller N.
  const json = await encryptKeystoreJson(
    { address: wallet.address, privateKey: wallet.privateKey },
    password,
    opts.scryptN ? { scrypt: { N: opts.scryptN } } : {},
  );
  writeFileSync(path, json, { mode: 0o600, flag: "wx" });
  return { address: wallet.address.toLowerCase() as Hex, path };
}

export async function loadKeystore(
  dataDir: string,
  password: string,
): Promise<{ address: Hex; privateKey: Hex }> {
  const path = keystorePath(dataDir);
  if (!existsSync(path)) {
    throw new WalletError(
      `no keystore at ${path}; create one with \`smartmarket keys new --data-dir ${dataDir}\``,
    );
  }
  try {
    const w = await Wallet.fromEncryptedJson(readFileSync(path, "utf8"), password);
    return { address: w.address.toLowerCase() as Hex, privateKey: w.privateKey as Hex };
  } catch (err) {
    throw new WalletError(`cannot decrypt ${path}: ${(err as Error).message}`);
  }
}

/** The keystore password: from a file (first line) or SMARTMARKET_PASSWORD. */
export function readPassword(passwordFile: string | null, env: NodeJS.ProcessEnv): string {
  if (passwordFile) {
    if (!existsSync(passwordFile)) throw new WalletError(`password file ${passwordFile} does not exist`);
    return readFileSync(passwordFile, "utf8").split(/\r?\n/)[0] ?? "";
  }
  const p = env.SMARTMARKET_PASSWORD;
  if (p === undefined) {
    throw new WalletError("no keystore password: pass --password-file FILE or set SMARTMARKET_PASSWORD");
  }
  return p;
}
