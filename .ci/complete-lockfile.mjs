// Completes package-lock.json with the platform-specific optional packages that this machine's npm
// registry does not serve (e.g. @biomejs/cli-darwin-arm64, @foundry-rs/anvil-win32-amd64). `npm install`
// skips an optional dependency it cannot fetch and leaves it out of the lock; `npm ci` then reports the
// lock as out of sync, although those packages never install on this platform. An entry with its `os`,
// `cpu` (and `libc`) lets `npm ci` skip them without fetching. They carry no `integrity` because the
// tarball cannot be fetched here; on a machine that can fetch them, `npm install` fills it in.
// Run after `npm install` changes the lock: `node .ci/complete-lockfile.mjs`.
import { readFileSync, writeFileSync } from "node:fs";

const PLATFORM = /-(android|darwin|linux|win32)-(arm64|x64|amd64)(-(musl|gnu|msvc))?$/;
const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8"));
const added = [];
for (const [key, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const child = `node_modules/${name}`;
    if (lock.packages[child]) continue;
    const m = PLATFORM.exec(name);
    if (!m) continue;
    const [, os, arch, , libc] = m;
    const tarball = `${name.split("/").pop()}-${version}.tgz`;
    lock.packages[child] = {
      version,
      resolved: `https://registry.npmjs.org/${name}/-/${tarball}`,
      cpu: [arch === "amd64" ? "x64" : arch],
      ...(entry.dev ? { dev: true } : {}),
      ...(libc === "musl" ? { libc: ["musl"] } : {}),
      optional: true,
      os: [os],
    };
    added.push(`${name}@${version} (for ${key || "root"})`);
  }
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1)),
);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(
  added.length ? `added ${added.length} lock entries:\n  ${added.join("\n  ")}\n` : "lock complete\n",
);
