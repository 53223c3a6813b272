// `smartmarket keys new|import|show|export`: the node's wallet, an encrypted keystore in the data dir.
// A private key never travels on the command line (shell history, process list).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Hex } from "../../../protocol/hex.ts";
import { defaultDataDir } from "../../config.ts";
import {
  createKeystore,
  decryptKeystore,
  encryptKey,
  keystoreAddress,
  keystorePath,
  loadKeystore,
  looksLikePrivateKey,
  parsePrivateKey,
  readPassword,
  WalletError,
} from "../../wallet.ts";
import { chainSettings } from "../chain-context.ts";
import { type CliCommand, CliError, ExitCode, readAll } from "../command.ts";

export const keysNewCommand: CliCommand = {
  name: "keys new",
  summary: "create the node's wallet (an encrypted keystore in the data dir)",
  usage: "[--data-dir DIR] [--password-file FILE] [--json]",
  help: `  --data-dir DIR        where to write keystore.json (default $SMARTMARKET_DATA_DIR or ~/.smartmarket)
  --password-file FILE  the password, first line of FILE (default: $SMARTMARKET_PASSWORD)`,
  options: { "data-dir": { type: "string" }, "password-file": { type: "string" }, json: { type: "boolean" } },
  handler: async (args, io) => {
    const dataDir = resolve((args.values["data-dir"] as string | undefined) ?? defaultDataDir(io.env));
    try {
      const password = readPassword((args.values["password-file"] as string | undefined) ?? null, io.env);
      const { address, path } = await createKeystore(dataDir, password);
      io.stdout.write(
        args.values.json
          ? `${JSON.stringify({ address, keystore: path })}\n`
          : `${address}\n  keystore ${path}\n`,
      );
      return ExitCode.OK;
    } catch (err) {
      if (err instanceof WalletError) throw new CliError(err.message);
      throw err;
    }
  },
};

const KEY_ON_COMMAND_LINE =
  "refusing a private key on the command line: it would stay in your shell history and be visible to " +
  "every user of this machine in the process list; put it in a file (--key-file FILE) or pipe it (--stdin)";

function walletCall<T>(p: Promise<T>): Promise<T> {
  return p.catch((err: unknown) => {
    if (err instanceof WalletError) throw new CliError(err.message);
    throw err;
  });
}

function readFileArg(path: string, what: string): string {
  if (!existsSync(path)) throw new CliError(`${what} ${path} does not exist`);
  return readFileSync(path, "utf8");
}

export const keysImportCommand: CliCommand = {
  name: "keys import",
  summary:
    "import an existing key as the node's wallet (from a file, stdin or a keystore; never an argument)",
  usage:
    "(--key-file FILE | --stdin | --keystore FILE --keystore-password-file FILE) [--data-dir DIR] [--password-file FILE] [--force] [--json]",
  help: `  --key-file FILE                 a file holding the private key (64 hex digits, 0x optional)
  --stdin                         read the private key from standard input
  --keystore FILE                 an encrypted JSON keystore (ethers, geth, \`keys export\`)
  --keystore-password-file FILE   the password of --keystore, first line of FILE
  --data-dir DIR                  where to write keystore.json (default $SMARTMARKET_DATA_DIR or ~/.smartmarket)
  --password-file FILE            the password of the node's new keystore, first line of FILE
                                  (default: $SMARTMARKET_PASSWORD)
  --force                         replace an existing keystore (its key is lost unless exported)
A private key is never accepted as an argument: it would leak through the shell history and the
process list.`,
  options: {
    "key-file": { type: "string" },
    stdin: { type: "boolean" },
    keystore: { type: "string" },
    "keystore-password-file": { type: "string" },
    "data-dir": { type: "string" },
    "password-file": { type: "string" },
    force: { type: "boolean" },
    json: { type: "boolean" },
  },
  maxPositionals: 1,
  handler: async (args, io) => {
    const positional = args.positionals[0];
    if (positional !== undefined) {
      if (looksLikePrivateKey(positional)) throw new CliError(KEY_ON_COMMAND_LINE);
      throw new CliError(
        `unexpected argument "${positional}"; give the key with --key-file FILE, --stdin or --keystore FILE`,
      );
    }
    const keyFile = args.values["key-file"] as string | undefined;
    const keystoreFile = args.values.keystore as string | undefined;
    const fromStdin = args.values.stdin === true;
    const sources = [keyFile !== undefined, fromStdin, keystoreFile !== undefined].filter(Boolean).length;
    if (sources !== 1) throw new CliError("give exactly one of --key-file FILE, --stdin, --keystore FILE");
    const ksPasswordFile = args.values["keystore-password-file"] as string | undefined;
    if (keystoreFile !== undefined && ksPasswordFile === undefined)
      throw new CliError("--keystore needs --keystore-password-file FILE (the keystore's password)");
    if (keystoreFile === undefined && ksPasswordFile !== undefined)
      throw new CliError("--keystore-password-file goes with --keystore FILE");
    const settings = chainSettings(args, io.env);
    const force = args.values.force === true;
    if (!force && existsSync(keystorePath(settings.dataDir)))
      throw new CliError(
        `a keystore already exists at ${keystorePath(settings.dataDir)}; refusing to overwrite it (--force replaces it)`,
      );
    const password = await walletCall(
      Promise.resolve().then(() => readPassword(settings.passwordFile, io.env)),
    );
    let privateKey: Hex;
    if (keyFile !== undefined) {
      privateKey = await walletCall(
        Promise.resolve().then(() =>
          parsePrivateKey(readFileArg(keyFile, "key file"), `key file ${keyFile}`),
        ),
      );
    } else if (fromStdin) {
      const text = await readAll(io.stdin);
      privateKey = await walletCall(Promise.resolve().then(() => parsePrivateKey(text, "standard input")));
    } else {
      const json = readFileArg(keystoreFile!, "keystore");
      const ksPassword = readFileArg(ksPasswordFile!, "password file").split(/\r?\n/)[0] ?? "";
      privateKey = (await walletCall(decryptKeystore(json, ksPassword, keystoreFile!))).privateKey;
    }
    const { address, path } = await walletCall(
      createKeystore(settings.dataDir, password, { privateKey, overwrite: force }),
    );
    io.stdout.write(
      args.values.json
        ? `${JSON.stringify({ address, keystore: path })}\n`
        : `${address}\n  keystore ${path}\n`,
    );
    return ExitCode.OK;
  },
};

export const keysShowCommand: CliCommand = {
  name: "keys show",
  summary: "print the node's wallet address (never a secret; no password needed)",
  usage: "[--data-dir DIR] [--json]",
  help: "  --data-dir DIR   the node's data dir (default $SMARTMARKET_DATA_DIR or ~/.smartmarket)",
  options: { "data-dir": { type: "string" }, json: { type: "boolean" } },
  handler: async (args, io) => {
    const settings = chainSettings(args, io.env);
    const address = await walletCall(Promise.resolve().then(() => keystoreAddress(settings.dataDir)));
    const path = keystorePath(settings.dataDir);
    io.stdout.write(args.values.json ? `${JSON.stringify({ address, keystore: path })}\n` : `${address}\n`);
    return ExitCode.OK;
  },
};

export const keysExportCommand: CliCommand = {
  name: "keys export",
  summary: "write the node's key as an encrypted JSON keystore (ethers/geth format) to a file",
  usage: "--out FILE [--data-dir DIR] [--password-file FILE] [--force] [--json]",
  help: `  --out FILE            where to write the keystore (mode 600; refuses to overwrite unless --force)
  --data-dir DIR        the node's data dir (default $SMARTMARKET_DATA_DIR or ~/.smartmarket)
  --password-file FILE  the keystore's password, first line of FILE (default: $SMARTMARKET_PASSWORD);
                        the exported file is encrypted with the same password
  --force               overwrite --out`,
  options: {
    out: { type: "string" },
    "data-dir": { type: "string" },
    "password-file": { type: "string" },
    force: { type: "boolean" },
    json: { type: "boolean" },
  },
  handler: async (args, io) => {
    const out = args.values.out as string | undefined;
    if (out === undefined) throw new CliError("missing --out FILE");
    const outPath = resolve(out);
    if (existsSync(outPath) && args.values.force !== true)
      throw new CliError(`${outPath} exists; refusing to overwrite it (--force replaces it)`);
    const settings = chainSettings(args, io.env);
    const password = await walletCall(
      Promise.resolve().then(() => readPassword(settings.passwordFile, io.env)),
    );
    const { address, privateKey } = await walletCall(loadKeystore(settings.dataDir, password));
    const json = await walletCall(encryptKey(privateKey, password));
    writeFileSync(outPath, json, { mode: 0o600 });
    io.stdout.write(
      args.values.json
        ? `${JSON.stringify({ address, keystore: outPath })}\n`
        : `${address}\n  exported to ${outPath} (encrypted with the node's keystore password)\n`,
    );
    return ExitCode.OK;
  },
};
