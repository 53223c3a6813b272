// The node's wallet: an encrypted JSON keystore (ethers, scrypt) in the data dir. It signs the orders
// the node submits for its device and pays the gas of settlements.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encryptKeystoreJson, getAddress, isKeystoreJson, Wallet } from "../protocol/ethers.ts";
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

/**
 * Creates a new key (or stores `privateKey`) and writes it encrypted; refuses to overwrite an existing
 * keystore unless `overwrite` (then the new file replaces the old one atomically).
 */
export async function createKeystore(
  dataDir: string,
  password: string,
  opts: { privateKey?: Hex; scryptN?: number; overwrite?: boolean } = {},
): Promise<{ address: Hex; path: string }> {
  const path = keystorePath(dataDir);
  if (existsSync(path) && !opts.overwrite)
    throw new WalletError(`a keystore already exists at ${path}; refusing to overwrite it`);
  if (password.length < 8) throw new WalletError("the password must be at least 8 characters");
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const wallet = opts.privateKey ? new Wallet(opts.privateKey) : Wallet.createRandom();
  // scrypt N defaults to ethers' 2^17; tests and throwaway testnet wallets may pass a smaller N.
  const json = await encryptKey(wallet.privateKey as Hex, password, opts.scryptN);
  if (opts.overwrite) {
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, json, { mode: 0o600, flag: "w" });
    renameSync(tmp, path);
  } else writeFileSync(path, json, { mode: 0o600, flag: "wx" });
  return { address: wallet.address.toLowerCase() as Hex, path };
}

/** A private key as ethers' encrypted JSON keystore (scrypt N defaults to ethers' 2^17). */
export async function encryptKey(privateKey: Hex, password: string, scryptN?: number): Promise<string> {
  if (password.length < 8) throw new WalletError("the password must be at least 8 characters");
  const wallet = new Wallet(privateKey);
  return encryptKeystoreJson(
    { address: wallet.address, privateKey: wallet.privateKey },
    password,
    scryptN ? { scrypt: { N: scryptN } } : {},
  );
}

const PRIVATE_KEY_RE = /^(0x)?[0-9a-fA-F]{64}$/;

/** Whether a string looks like a raw secp256k1 private key (64 hex digits, with or without 0x). */
export function looksLikePrivateKey(text: string): boolean {
  return PRIVATE_KEY_RE.test(text.trim());
}

/** A private key from text (a file's or stdin's content): 64 hex digits, 0x optional, whitespace trimmed. */
export function parsePrivateKey(text: string, where: string): Hex {
  const t = text.trim();
  if (!PRIVATE_KEY_RE.test(t))
    throw new WalletError(`${where} does not hold a private key (64 hex digits, 0x optional)`);
  const key = (t.startsWith("0x") ? t : `0x${t}`).toLowerCase() as Hex;
  try {
    new Wallet(key);
  } catch {
    throw new WalletError(`${where} holds 64 hex digits that are not a valid secp256k1 private key`);
  }
  return key;
}

/** Decrypts an encrypted JSON keystore (any ethers/geth one). */
export async function decryptKeystore(
  json: string,
  password: string,
  where: string,
): Promise<{ address: Hex; privateKey: Hex }> {
  if (!isKeystoreJson(json)) throw new WalletError(`${where} is not an encrypted JSON keystore`);
  try {
    const w = await Wallet.fromEncryptedJson(json, password);
    return { address: w.address.toLowerCase() as Hex, privateKey: w.privateKey as Hex };
  } catch (err) {
    throw new WalletError(`cannot decrypt ${where}: ${(err as Error).message}`);
  }
}

/** The address a keystore in the data dir holds, read from its JSON without decrypting it. */
export function keystoreAddress(dataDir: string): Hex {
  const path = keystorePath(dataDir);
  if (!existsSync(path)) {
    throw new WalletError(
      `no keystore at ${path}; create one with \`smartmarket keys new\` or \`smartmarket keys import\``,
    );
  }
  let address: unknown;
  try {
    address = (JSON.parse(readFileSync(path, "utf8")) as { address?: unknown }).address;
  } catch (err) {
    throw new WalletError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof address !== "string") throw new WalletError(`${path} has no address`);
  try {
    return getAddress(address.startsWith("0x") ? address : `0x${address}`).toLowerCase() as Hex;
  } catch {
    throw new WalletError(`${path} has a malformed address "${address}"`);
  }
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
  return decryptKeystore(readFileSync(path, "utf8"), password, path);
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
