import { defineConfig } from "vitest/config";

// One run, three kinds of tests: unit + property (fast, parallel), e2e (real processes, anvil, libp2p).
// e2e files end in `.e2e.test.ts` and run one at a time so that timing-sensitive multi-process tests
// do not compete for the two cores of the CI machine. The fault suite (test/fault/, real processes under
// attack and outage, several minutes) has its own config: `npm run test:fault` (vitest.fault.config.ts).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts", "test/property/**/*.test.ts"],
          exclude: ["**/*.e2e.test.ts"],
          testTimeout: 60_000,
          pool: "forks",
          maxWorkers: 2,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts", "test/**/*.e2e.test.ts"],
          testTimeout: 240_000,
          hookTimeout: 240_000,
          pool: "forks",
          maxWorkers: 1,
          fileParallelism: false,
        },
      },
    ],
  },
});
