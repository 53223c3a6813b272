import { defineConfig } from "vitest/config";

// The fault suite: real node processes, anvil and libp2p on loopback, under attack and outage
// (test/fault/*.fault.test.ts). Long and timing-sensitive, so one file at a time and outside `npm test`:
// `npm run test:fault` (CI runs it after `npm test`).
export default defineConfig({
  test: {
    name: "fault",
    include: ["test/fault/**/*.fault.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
  },
});
