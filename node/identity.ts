// The node's persistent libp2p identity: an Ed25519 key in <dataDir>/peer.key (protobuf, mode 0600).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import type { PrivateKey } from "@libp2p/interface";
import { PEER_KEY_FILE } from "./constants.ts";

export async function loadOrCreatePeerKey(dataDir: string): Promise<PrivateKey> {
  const path = join(dataDir, PEER_KEY_FILE);
  if (existsSync(path)) {
    try {
      return privateKeyFromProtobuf(readFileSync(path));
    } catch (err) {
      throw new Error(`cannot read the peer key ${path}: ${(err as Error).message}`);
    }
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = await generateKeyPair("Ed25519");
  writeFileSync(path, privateKeyToProtobuf(key), { mode: 0o600, flag: "wx" });
  return key;
}
