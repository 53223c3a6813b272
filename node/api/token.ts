// The control API's bearer token: 32 random bytes as hex, created once in the data dir with mode 0600.
// An empty or whitespace-only token file (truncated by a crash or an operator) is regenerated with a
// warning: it used to load as "", and any `Bearer <blank>` header then authenticated.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bytesToHex } from "../../protocol/hex.ts";
import { API_TOKEN_FILE } from "../constants.ts";

/** Whether `token` can authenticate anything: not empty once every kind of white space is removed. */
export function isUsableToken(token: string): boolean {
  return token.replace(/[\s\u00a0\ufeff]/gu, "").length > 0;
}

export function loadOrCreateToken(dataDir: string, warn: (msg: string) => void = () => {}): string {
  const path = join(dataDir, API_TOKEN_FILE);
  if (existsSync(path)) {
    const token = readFileSync(path, "utf8").trim();
    if (isUsableToken(token)) return token;
    warn(`the API token file ${path} is empty: a new token was written to it`);
  }
  const token = bytesToHex(randomBytes(32)).slice(2);
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return token;
}
