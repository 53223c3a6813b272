// `smartmarket keys new`: create the node's wallet as an encrypted keystore in the data dir.
import { resolve } from "node:path";
import { defaultDataDir } from "../../config.ts";
import { createKeystore, readPassword, WalletError } from "../../wallet.ts";
import { type CliCommand, CliError, ExitCode } from "../command.ts";

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
