// The control API's bearer token: 32 random bytes as hex, created once in the data dir with mode 0600.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bytesToHex } from "../../protocol/hex.ts";
import { API_TOKEN_FILE } from "../constants.ts";

export function loadOrCreateToken(dataDir: string): string {
  const path = join(dataDir, API_TOKEN_FILE);
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  const token = bytesToHex(randomBytes(32)).slice(2);
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return token;
}
