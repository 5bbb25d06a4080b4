import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts", "test/sim/**/*.test.ts"],
    // two files at once (the default is one on a 2-core machine): the simulated host's tests wait on
    // their processes more than they compute; 8.2 min -> 6.2 min on 2 cores
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
